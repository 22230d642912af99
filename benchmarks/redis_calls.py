"""CPU per call of the Redis cache store alone: 200 concurrent callers, 80 % get / 20 % set
over 3,000 users (2,000 cached), process CPU time per call and calls per second. Less
sensitive to a shared machine's load than a throughput figure.

    python benchmarks/redis_calls.py [CALLS] [--url redis://127.0.0.1:6379/12]

A benchmark, not a test: it prints numbers; nothing here asserts a time.
"""

import asyncio
import random
import sys
import time

import redis.utils

from cachetui.engine.profile import Profile
from cachetui.engine.stores.redis_store import RedisStore

N = int(sys.argv[1]) if len(sys.argv) > 1 and sys.argv[1].isdigit() else 40000
URL = sys.argv[sys.argv.index("--url") + 1] if "--url" in sys.argv else "redis://127.0.0.1:6379/12"


def p(u, v=1):
    return Profile(u, f"user {u}", f"bio {u}", "", u, v, "2026-01-01T00:00:00Z")


async def main():
    s = RedisStore(URL, namespace="bench-redis-calls", capacity=10000)
    await s.start()
    await asyncio.gather(*(s.set(p(u)) for u in range(1, 2001)))
    rnd = random.Random(1)
    left = N

    async def caller():
        nonlocal left
        while left > 0:
            left -= 1
            u = rnd.randint(1, 3000)
            if rnd.random() < 0.8:
                await s.get(u)
            else:
                await s.set(p(u, 2))

    c0, t0 = time.process_time(), time.perf_counter()
    await asyncio.gather(*(caller() for _ in range(200)))
    c1, t1 = time.process_time(), time.perf_counter()
    print(
        f"hiredis={redis.utils.HIREDIS_AVAILABLE} {N / (t1 - t0):,.0f} calls/s  "
        f"{1e6 * (c1 - c0) / N:.1f} us CPU/call  "
        f"{s.batcher.commands / s.batcher.round_trips:.1f} commands per round trip"
    )
    await s.clear()
    await s.close()


asyncio.run(main())
