"""The fleet queue's Lua scripts: each one atomic step on the Redis server.

- :data:`SEQUENCE` (the sequencer): per user, assign the next version and append the
  entry that carries the caller's changes, in one step;
- :data:`ACQUIRE` / :data:`RELEASE`: a partition's lease, taken from the holder the
  caller saw (compare and set) with a new epoch, or given back;
- :data:`DROP_HEAD`: forget a user's head when nothing newer was sequenced (a write
  parked as a conflict: the next update builds on the database again).
"""

from __future__ import annotations

#: KEYS: the user's head (a hash: the newest sequenced row), the partition's stream, the
#: write's void key. ARGV: format, owner, write id, updated_at, the number of changed
#: fields N, the changes as JSON, N field/value pairs, then (optional) the base row as
#: field/value pairs (given when the caller read the database because there was no head).
#: Returns {-1}: the write was withdrawn; {0}: no head and no base (read the database and
#: call again); {1, entry id, the head after the write as field/value pairs}.
SEQUENCE = """
if redis.call('EXISTS', KEYS[3]) == 1 then return {-1} end
local nc = tonumber(ARGV[5])
local first_base = 7 + 2 * nc
local head_version = redis.call('HGET', KEYS[1], 'version')
if #ARGV >= first_base then
  local base_version = -1
  for i = first_base, #ARGV, 2 do
    if ARGV[i] == 'version' then base_version = tonumber(ARGV[i + 1]) end
  end
  if not head_version or base_version > tonumber(head_version) then
    redis.call('DEL', KEYS[1])
    redis.call('HSET', KEYS[1], unpack(ARGV, first_base, #ARGV))
  end
elseif not head_version then
  return {0}
end
for i = 7, first_base - 1, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
local v = redis.call('HINCRBY', KEYS[1], 'version', 1)
redis.call('HSET', KEYS[1], 'updated_at', ARGV[4], 'write_id', ARGV[3])
local row = redis.call('HGETALL', KEYS[1])
local entry = {'f', ARGV[1], 'u', redis.call('HGET', KEYS[1], 'user_id'), 'v', v,
               'b', v - 1, 'o', ARGV[2], 'w', ARGV[3], 'c', ARGV[6]}
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

#: KEYS: the head. ARGV: a version. Deletes the head if it still holds that version.
DROP_HEAD = """
if redis.call('HGET', KEYS[1], 'version') == ARGV[1] then return redis.call('DEL', KEYS[1]) end
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
