"""The fleet queue's Lua scripts: each one atomic step on the Redis server.

- :data:`SEQUENCE` (the sequencer): per user, assign the next version and append the
  entry that carries the caller's changes, in one step;
- :data:`ACQUIRE` / :data:`RELEASE`: a partition's lease, taken from the holder the
  caller saw (compare and set) with a new epoch, or given back;
- :data:`EXPIRE_HEADS`: a head whose write landed, with nothing newer sequenced, expires
  (the next update builds on the database's row);
- :data:`FLOOR_HEAD`: a head whose write was parked (a conflict), with nothing newer
  sequenced, becomes a floor: the next update builds on the database's row, numbered above
  the parked version.
"""

from __future__ import annotations

#: KEYS: the user's head (a hash: the newest sequenced row), the partition's stream, the
#: write's void key. ARGV: format, owner, write id, updated_at, the window (ms), the number
#: of changed fields N, the changes as JSON, N field/value pairs, then (optional) the
#: server time the "no head" answer gave and the base row as field/value pairs (given when
#: the caller read the database because there was no head).
#: Returns {-1}: the write was withdrawn; {0, server time in ms}: no head, and no base or
#: one read too long ago (read the database and call again with that time); {1, entry id,
#: the head after the write as field/value pairs}.
#:
#: A head without ``version`` is a floor (:data:`FLOOR_HEAD`): no row, but the next
#: version is above it. A base is taken only within the window after the "no head"
#: answer: a head that expired meanwhile (:data:`EXPIRE_HEADS`) had landed at least its
#: time to live (twice the window) before, so before that answer, and the base read after
#: it holds that landing. The head is kept (no time to live) while its entry is pending.
SEQUENCE = """
if redis.replicate_commands then redis.replicate_commands() end  -- TIME, then writes (< 5)
if redis.call('EXISTS', KEYS[3]) == 1 then return {-1} end
local nc = tonumber(ARGV[6])
local first_base = 8 + 2 * nc
local head_version = redis.call('HGET', KEYS[1], 'version')
local b = tonumber(head_version)
if #ARGV > first_base then
  local base_version = -1
  for i = first_base + 1, #ARGV, 2 do
    if ARGV[i] == 'version' then base_version = tonumber(ARGV[i + 1]) end
  end
  if not b then
    local t = redis.call('TIME')
    local now = t[1] * 1000 + math.floor(t[2] / 1000)
    if now - tonumber(ARGV[first_base]) > tonumber(ARGV[5]) then return {0, now} end
    local floor = tonumber(redis.call('HGET', KEYS[1], 'floor') or '-1')
    redis.call('DEL', KEYS[1])
    redis.call('HSET', KEYS[1], unpack(ARGV, first_base + 1, #ARGV))
    b = base_version
    if floor > b then redis.call('HSET', KEYS[1], 'version', floor) end
  elseif base_version > b then
    redis.call('DEL', KEYS[1])
    redis.call('HSET', KEYS[1], unpack(ARGV, first_base + 1, #ARGV))
    b = base_version
  end
elseif not b then
  local t = redis.call('TIME')
  return {0, t[1] * 1000 + math.floor(t[2] / 1000)}
end
for i = 8, first_base - 1, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
local v = redis.call('HINCRBY', KEYS[1], 'version', 1)
redis.call('HSET', KEYS[1], 'updated_at', ARGV[4], 'write_id', ARGV[3])
redis.call('PERSIST', KEYS[1])
local row = redis.call('HGETALL', KEYS[1])
local entry = {'f', ARGV[1], 'u', redis.call('HGET', KEYS[1], 'user_id'), 'v', v,
               'b', b, 'o', ARGV[2], 'w', ARGV[3], 'c', ARGV[7]}
for i = 1, #row, 2 do
  entry[#entry + 1] = 'r.' .. row[i]
  entry[#entry + 1] = row[i + 1]
end
local id = redis.call('XADD', KEYS[2], '*', unpack(entry))
return {1, id, row}
"""

#: KEYS: the lease, the partition's epoch counter. ARGV: the holder the caller saw ('' for
#: none), the caller. Returns the new lease ("owner epoch"), or false if it changed.
ACQUIRE = """
local current = redis.call('GET', KEYS[1]) or ''
if current ~= ARGV[1] then return false end
local epoch = redis.call('INCR', KEYS[2])
local lease = ARGV[2] .. ' ' .. epoch
redis.call('SET', KEYS[1], lease)
return lease
"""

#: KEYS: the lease. ARGV: the caller's lease ("owner epoch"). 1 if it was given back.
RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""

#: KEYS: the heads of users whose writes landed. ARGV: the time to live (ms), then each
#: head's landed version. A head still at its landed version (nothing newer sequenced)
#: expires after the time to live; a newer one is kept. How many were set to expire.
EXPIRE_HEADS = """
local n = 0
for i = 1, #KEYS do
  if redis.call('HGET', KEYS[i], 'version') == ARGV[i + 1] then
    redis.call('PEXPIRE', KEYS[i], ARGV[1])
    n = n + 1
  end
end
return n
"""

#: KEYS: the head. ARGV: a parked write's version. If the head still holds it (nothing
#: newer sequenced), it becomes a floor: no row (the next update builds on the database's)
#: but the next version is above the parked one, so no version is used twice.
FLOOR_HEAD = """
if redis.call('HGET', KEYS[1], 'version') == ARGV[1] then
  redis.call('DEL', KEYS[1])
  return redis.call('HSET', KEYS[1], 'floor', ARGV[1])
end
return 0
"""

#: KEYS: the head. ARGV: a version and the row as field/value pairs. Sets the head to the
#: row unless it holds that version or a newer one already (a rebased write).
RAISE_HEAD = """
local v = redis.call('HGET', KEYS[1], 'version')
if v and tonumber(v) >= tonumber(ARGV[1]) then return 0 end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], unpack(ARGV, 2, #ARGV))
return 1
"""
