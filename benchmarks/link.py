"""What the link adds, measured: PING round trips through ``cachetui``'s relay (a child
process, as ``--db-rtt``/``--cache-rtt`` start it) to a real Redis server, with redis-py,
beside the same PINGs straight to the server; a pipeline; jitter's spread; the RTT the
link measures itself (what the header shows).

    python benchmarks/link.py [--redis redis://127.0.0.1:6379/15] [--pings N]

A benchmark, not a test: it prints numbers; nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import time

import redis

from cachetui.engine.lab.link import Link, format_duration


def round_trips(client: redis.Redis, count: int) -> list[float]:
    client.ping()
    times = []
    for _ in range(count):
        started = time.perf_counter()
        client.ping()
        times.append(time.perf_counter() - started)
    return sorted(times)


def pipeline(client: redis.Redis, size: int = 100) -> float:
    pipe = client.pipeline(transaction=False)
    for i in range(size):
        pipe.get(f"cachetui-link-bench:{i}")
    started = time.perf_counter()
    pipe.execute()
    return time.perf_counter() - started


def us(seconds: float | None) -> str:
    return "—" if seconds is None else f"{seconds * 1e6:,.0f} µs"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/15")
    parser.add_argument("--pings", type=int, default=2000)
    args = parser.parse_args()
    print(f"{'path':<28} {'p50':>10} {'p99':>10} {'pipeline 100':>13} {'measured':>10}")
    with redis.Redis.from_url(args.redis) as client:
        times = round_trips(client, args.pings)
        print(
            f"{'direct (no link)':<28} {us(times[len(times) // 2]):>10} "
            f"{us(times[int(len(times) * 0.99)]):>10} {us(pipeline(client)):>13} {'':>10}"
        )
    link = Link.for_url(args.redis, rtt=0.0, interval=0.2)
    started = time.perf_counter()
    link.start()
    print(f"(the link's child started in {(time.perf_counter() - started) * 1e3:.0f} ms)")
    try:
        with redis.Redis.from_url(link.relay_url(args.redis)) as client:
            for rtt, jitter in ((0.0, 0.0), (300e-6, 0.0), (0.002, 0.0), (0.002, 0.002)):
                link.rtt, link.jitter = rtt, jitter
                count = args.pings if rtt < 0.001 else max(200, args.pings // 5)
                times = round_trips(client, count)
                name = f"link rtt {format_duration(rtt)}"
                if jitter:
                    name += f" jitter {format_duration(jitter)}"
                print(
                    f"{name:<28} {us(times[len(times) // 2]):>10} "
                    f"{us(times[int(len(times) * 0.99)]):>10} {us(pipeline(client)):>13} "
                    f"{us(link.probe()):>10}"
                )
    finally:
        link.stop()


if __name__ == "__main__":
    main()
