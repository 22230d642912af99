"""``claim_after`` (``--claim-after``): at start, a Redis Stream queue takes over the
entries of an owner on another host only once that owner's last heartbeat is older than
``claim_after`` seconds, measured by the Redis server (the heartbeat key's TTL)."""

from __future__ import annotations

import pytest
import redis

from cachetui.engine import Engine, EngineConfig, ValidationError
from cachetui.engine.queue.stream import HEARTBEAT_TTL, RedisStreamOutbox
from tests.conftest import db_row, delete_test_keys

ELSEWHERE = "another-host/4242:1700000000:1"


async def leave_an_entry_of_another_host(url: str, database_id: str, profile, age: float):
    """An entry owned by ELSEWHERE whose last heartbeat was ``age`` seconds ago."""
    outbox = RedisStreamOutbox(url)
    await outbox.open(database_id)
    outbox.owner = ELSEWHERE
    changed = profile._replace(
        bio="landed by a survivor", version=profile.version + 1, write_id="elsewhere:0:7"
    )
    await outbox.append_many([(changed, profile.version)])
    await outbox.close()
    with redis.Redis.from_url(url) as client:
        key = f"cachetui:queue:{database_id}:owner:{ELSEWHERE}"
        client.set(key, "1", px=int((HEARTBEAT_TTL - age) * 1000))


@pytest.mark.redis
async def test_an_owner_elsewhere_is_taken_over_once_its_heartbeat_is_older_than_claim_after(
    tmp_path, redis_url
):
    db = str(tmp_path / "fleet.db")

    def config(claim_after: float) -> EngineConfig:
        return EngineConfig(
            db_path=db,
            policy="write-behind",
            queue_url=redis_url,
            flush_interval=60,
            claim_after=claim_after,
        )

    try:
        async with Engine(config(10)) as engine:
            await engine.seed(5)
            profile = await engine.read(1)
            database_id = engine.db.database_id
        await leave_an_entry_of_another_host(redis_url, database_id, profile, age=6)

        async with Engine(config(10)) as patient:  # 6 s old < 10: alive, left alone
            assert patient.recovered == 0
        assert db_row(db, 1).bio == profile.bio

        async with Engine(config(5)) as survivor:  # 6 s old > 5: gone, taken over
            assert survivor.recovered == 1
        landed = db_row(db, 1)
        assert (landed.bio, landed.write_id) == ("landed by a survivor", "elsewhere:0:7")
        with redis.Redis.from_url(redis_url) as client:  # its last heartbeat goes too
            assert not client.exists(f"cachetui:queue:{database_id}:owner:{ELSEWHERE}")
    finally:
        delete_test_keys(redis_url, tmp_path)


@pytest.mark.parametrize("seconds", [1.9, 3600.5, 0])
def test_claim_after_out_of_range_is_refused(seconds):
    with pytest.raises(ValidationError, match="claim_after must be 2 to 3600 seconds"):
        EngineConfig(claim_after=seconds)
