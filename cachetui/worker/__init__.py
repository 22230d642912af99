"""``cachetui worker``: an instance without a screen (docs/fleet.md).
:mod:`~cachetui.worker.command` its options, :mod:`~cachetui.worker.run` the run (a
workload, a status line a second, the app's quit path on a signal) and
:mod:`~cachetui.worker.metrics` ``--metrics-port``'s Prometheus endpoint."""
