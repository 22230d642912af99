"""``cachetui bench``: the same seeded workload under each write policy, side by side.

:mod:`~cachetui.bench.command` (the command: its options and ``main``) runs every policy
in turn (:mod:`~cachetui.bench.all_policies`) or a sweep of one setting
(:mod:`~cachetui.bench.sweep`, drawn by :mod:`~cachetui.bench.plot`); both run each
policy on a fresh copy of one template database (:mod:`~cachetui.bench.policy_run`), stop
on a signal (:mod:`~cachetui.bench.interrupt`) and print through
:mod:`~cachetui.bench.output`.
"""
