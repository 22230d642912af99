"""``cachetui worker``: an instance without a screen (docs/fleet.md).

The app's engine options (:func:`cachetui.cli.options.add_engine_options`) plus a
workload, a name, ``--history``, ``--claim-after`` and ``--metrics-port``. Exit status:
0 when everything acknowledged landed (or stays in a durable queue), 1 when some could not
land (counted and named on stderr), 2 for bad options or a server that cannot be used.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import os
import signal
import socket
import sys
from collections.abc import Sequence

from cachetui.bench.argument_types import number_type
from cachetui.cli.options import add_engine_options, add_history_options, config_from_args
from cachetui.engine import Engine, EngineConfig
from cachetui.engine.config import CLAIM_AFTER_RANGE
from cachetui.engine.errors import CacheTuiError
from cachetui.engine.lab.workload import Workload
from cachetui.engine.preflight import check_servers
from cachetui.literal import printable
from cachetui.worker.metrics import MetricsServer
from cachetui.worker.run import Worker, WorkerPlan

PROG = "cachetui worker"


def default_name() -> str:
    """``host/pid``."""
    return f"{socket.gethostname()}/{os.getpid()}"


def _name(text: str) -> str:
    if not text.strip() or not text.isprintable() or len(text) > 100:
        raise argparse.ArgumentTypeError(
            "expected 1 to 100 printable characters, got " + repr(text[:40])
        )
    return text


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="An instance without a screen: the app's engine under a workload "
        "(Zipf-skewed keys, a read/write mix, an open-loop rate), printing one status line "
        "a second on stdout. SIGTERM, SIGINT and SIGHUP flush what is pending, as the app "
        "does. See docs/fleet.md.",
        epilog="Status line: NAME POLICY: OPS ops/s, pending N, landed N (rows written to "
        "the database), claimed N (writes of other instances taken over), errors N. "
        "Exit status: 0 everything acknowledged landed (or stays in a durable queue), "
        "1 some could not land (counted and named on stderr), 2 bad options or a server "
        "that cannot be used.",
    )
    work = parser.add_argument_group("workload")
    work.add_argument(
        "--rate",
        type=number_type(int, 1, Workload.MAX_RATE),
        default=200,
        metavar="OPS",
        help=f"operations a second, 1 to {Workload.MAX_RATE:,} (default 200)",
    )
    work.add_argument(
        "--read-ratio",
        type=number_type(float, 0, 1),
        default=0.8,
        metavar="R",
        help="share of reads, 0 to 1 (default 0.8)",
    )
    work.add_argument(
        "--keys",
        type=number_type(int, 1),
        metavar="N",
        help="users 1..N drawn (default: every profile in the database)",
    )
    work.add_argument(
        "--zipf",
        type=number_type(float, 0),
        default=1.1,
        metavar="S",
        help="key skew, Zipf exponent; 0 = uniform (default 1.1)",
    )
    work.add_argument(
        "--seconds",
        type=number_type(float, 0, above=True),
        metavar="S",
        help="stop after S seconds, flushing as on SIGTERM (default: run until stopped)",
    )
    work.add_argument("--seed", type=int, help="workload seed (default: random)")
    fleet = parser.add_argument_group("instance")
    fleet.add_argument(
        "--name",
        type=_name,
        metavar="NAME",
        help="this instance's name in the status line and the metrics' instance label "
        "(default HOST/PID)",
    )
    low, high = CLAIM_AFTER_RANGE
    fleet.add_argument(
        "--claim-after",
        type=number_type(float, low, high),
        default=10.0,
        metavar="S",
        help=f"with --queue redis://… (the fleet queue): land the pending writes of an "
        f"instance whose last heartbeat is older than S seconds, while running "
        f"({low:g} to {high:g}, default 10; on this host a dead process is taken over at "
        "once)",
    )
    fleet.add_argument(
        "--metrics-port",
        type=number_type(int, 1, 65535),
        metavar="P",
        help="serve the engine's metrics in Prometheus' text format at "
        "http://HOST:P/metrics (names cachetui_*, labels instance and policy)",
    )
    fleet.add_argument(
        "--metrics-host",
        default="127.0.0.1",
        metavar="H",
        help="the address --metrics-port listens on (default 127.0.0.1; 0.0.0.0: every one)",
    )
    engine = parser.add_argument_group("engine (the app's options)")
    add_engine_options(engine)
    add_history_options(engine)
    return parser


def main(argv: Sequence[str]) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        config = config_from_args(args)
        config = dataclasses.replace(
            config,
            claim_after=args.claim_after,
            instance_name=args.name or default_name(),
            fleet=True,  # a redis:// queue is the fleet queue, shared by every instance
        )
    except (CacheTuiError, OSError) as exc:
        parser.error(str(exc))
    name = args.name or default_name()
    plan = WorkerPlan(
        name=name,
        rate=args.rate,
        read_ratio=args.read_ratio,
        keys=args.keys,
        zipf=args.zipf,
        seconds=args.seconds,
        profiles=args.profiles,
        seed=args.seed,
    )
    metrics = None
    if args.metrics_port is not None:
        metrics = MetricsServer(name, args.metrics_port, args.metrics_host)
        try:
            metrics.start()
        except OSError as exc:
            reason = exc.strerror or str(exc)
            print(
                f"{PROG}: error: --metrics-port {args.metrics_port}: cannot listen on "
                f"{args.metrics_host}:{args.metrics_port}: {reason}",
                file=sys.stderr,
            )
            return 2
    try:
        return _run(config, plan, metrics)
    finally:
        if metrics is not None:
            metrics.stop()


def _run(config: EngineConfig, plan: WorkerPlan, metrics: MetricsServer | None) -> int:
    try:
        engine = Engine(config)
        check_servers(config)  # before anything is written
        result = asyncio.run(Worker(engine, plan, metrics).run())
    except KeyboardInterrupt:  # SIGINT before the worker could handle it (while starting)
        return 128 + signal.SIGINT
    except CacheTuiError as exc:  # a server that cannot be used: its words, one line
        print(f"{PROG}: error: {printable(str(exc))}", file=sys.stderr)
        return 2
    try:
        for line in result.lines:
            print(printable(line).replace("cachetui:", f"{PROG}:", 1), file=sys.stderr)
        sys.stderr.flush()
    except OSError:
        pass  # the terminal is gone (SIGHUP): the status says it
    return result.exit_code
