"""``claim_after`` (``--claim-after``): a member of the fleet queue on another host is
dead, and the partitions it holds are claimed and landed, only once its last heartbeat
is older than the claimer's ``claim_after`` seconds, measured by the Redis server (the
heartbeat key's time to live)."""

from __future__ import annotations

import pytest
import redis

from cachetui.engine import Engine, EngineConfig, ValidationError
from cachetui.engine.fleet.fleet_queue import FleetQueue
from cachetui.engine.fleet.leases import HEARTBEAT_TTL
from cachetui.engine.profile import Profile
from tests.conftest import db_row, delete_test_keys

ELSEWHERE = "another-host/4242:1700000000:1"


async def a_member_elsewhere_holding_a_write(url: str, database_id: str, base: Profile) -> int:
    """ELSEWHERE joins the fleet, sequences a write of ``base``'s user and takes every
    partition, then stops (its leases kept, as a host that went dark). The version."""
    queue = FleetQueue(url, claim_after=10, name="elsewhere")
    queue.owner = ELSEWHERE  # before open: its heartbeat and leases name it
    await queue.open(database_id)
    row = await queue.sequence(
        base.user_id, {"bio": "landed by a survivor"}, "elsewhere:0:7", base.updated_at, base
    )
    assert queue.leases is not None and row is not None
    await queue.leases.maintain(lambda k: True, {})  # alone: takes every partition
    queue.leases.held = {}  # gone dark: nothing given back at its close
    await queue.close()
    return row.version


def heartbeat(url: str, database_id: str, age: float) -> None:
    """ELSEWHERE's last heartbeat was ``age`` seconds ago (its member entry back)."""
    prefix = f"cachetui:queue:{database_id}:fleet"
    with redis.Redis.from_url(url) as client:
        client.hset(f"{prefix}:members", ELSEWHERE, "elsewhere")
        client.set(f"{prefix}:owner:{ELSEWHERE}", "1", px=int((HEARTBEAT_TTL - age) * 1000))


@pytest.mark.redis
async def test_a_member_elsewhere_is_claimed_once_its_heartbeat_is_older_than_claim_after(
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
        version = await a_member_elsewhere_holding_a_write(redis_url, database_id, profile)

        heartbeat(redis_url, database_id, age=1)
        async with Engine(config(10)) as patient:  # 1 s old < 10: alive, left alone
            await patient.flush()
            status = await patient.fleet_status()
            assert status is not None
            [other] = [m for m in status.members if m.owner == ELSEWHERE]
            assert other.live and len(other.partitions) == status.partitions
            assert patient.claimed_writes == 0
        assert db_row(db, 1).bio == profile.bio

        heartbeat(redis_url, database_id, age=6)
        async with Engine(config(5)) as survivor:  # 6 s old > 5: dead, claimed
            await survivor.flush()
            assert survivor.claimed_writes == 1
            assert await survivor.fleet_pending() == []
        landed = db_row(db, 1)
        assert (landed.bio, landed.write_id, landed.version) == (
            "landed by a survivor",
            "elsewhere:0:7",
            version,
        )
    finally:
        delete_test_keys(redis_url, tmp_path)


@pytest.mark.parametrize("seconds", [1.9, 3600.5, 0])
def test_claim_after_out_of_range_is_refused(seconds):
    with pytest.raises(ValidationError, match="claim_after must be 2 to 3600 seconds"):
        EngineConfig(claim_after=seconds)
