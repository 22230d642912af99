"""Bad updates are rejected with a clear error before anything is written anywhere."""

from __future__ import annotations

import pytest

from cachetui.engine import ProfileNotFound, ValidationError
from tests.conftest import db_row

POLICIES = ["write-through", "write-behind", "write-around", "no-cache"]

BAD_UPDATES = [
    ({"name": ""}, "name must be 1–64 characters, got 0"),
    ({"name": "x" * 65}, "name must be 1–64 characters, got 65"),
    ({"bio": "x" * 281}, "bio must be 0–280 characters, got 281"),
    ({"location": "x" * 65}, "location must be 0–64 characters, got 65"),
    ({"followers": -1}, "followers must be >= 0, got -1"),
    ({"followers": "12"}, "followers must be an integer, got str"),
    ({"followers": 1.5}, "followers must be an integer, got float"),
    ({"followers": True}, "followers must be an integer, got bool"),
    ({"name": 7}, "name must be text, got int"),
    ({"bio": None}, "bio must be text, got NoneType"),
    ({"version": 9}, "unknown field 'version'"),
    ({"email": "a@b.c"}, "unknown field 'email'"),
    ({}, "an update must change at least one field"),
]


@pytest.mark.parametrize("policy", POLICIES)
@pytest.mark.parametrize(("changes", "message"), BAD_UPDATES)
async def test_invalid_update_is_rejected_and_changes_nothing(
    make_engine, db_path, policy, changes, message
):
    engine = await make_engine(policy)
    before_cached = await engine.read(3)
    before_db = db_row(db_path, 3)

    with pytest.raises(ValidationError, match=message):
        await engine.update(3, changes)

    assert await engine.read(3) == before_cached
    assert engine.pending_writes() == []
    await engine.flush()
    assert db_row(db_path, 3) == before_db
    assert engine.metrics.updates == 0


@pytest.mark.parametrize("policy", POLICIES)
async def test_limits_are_inclusive(make_engine, db_path, policy):
    engine = await make_engine(policy)
    changes = {"name": "n" * 64, "bio": "b" * 280, "location": "l" * 64, "followers": 0}
    profile = await engine.update(5, changes)
    assert (profile.name, profile.bio, profile.location, profile.followers) == (
        "n" * 64,
        "b" * 280,
        "l" * 64,
        0,
    )
    await engine.flush()
    assert db_row(db_path, 5) == profile
    one_char = await engine.update(5, {"name": "n", "bio": "", "location": ""})
    assert one_char.name == "n" and one_char.bio == "" and one_char.version == 3


@pytest.mark.parametrize("policy", POLICIES)
async def test_unknown_user_is_rejected_everywhere(make_engine, db_path, policy):
    engine = await make_engine(policy)
    with pytest.raises(ProfileNotFound, match="user 999 does not exist"):
        await engine.read(999)
    with pytest.raises(ProfileNotFound, match="user 999 does not exist"):
        await engine.update(999, {"bio": "ghost"})
    with pytest.raises(ProfileNotFound, match="user 999 does not exist"):
        await engine.external_update(999, {"bio": "ghost"})
    assert engine.pending_writes() == []
    assert db_row(db_path, 999) is None


@pytest.mark.parametrize("bad", [0, -3, "7", 2.0, None, True])
async def test_bad_user_ids_are_rejected(make_engine, bad):
    engine = await make_engine()
    with pytest.raises(ValidationError, match="user id must be"):
        await engine.read(bad)
    with pytest.raises(ValidationError, match="user id must be"):
        await engine.update(bad, {"bio": "x"})


async def test_update_must_be_a_dict(make_engine):
    engine = await make_engine()
    with pytest.raises(ValidationError, match="an update must be a dict of fields, got list"):
        await engine.update(1, [("bio", "x")])
