"""Lua scripts of the Redis store: each runs atomically on the server in one round trip.

Keys of one namespace ``cachetui:<ns>:``:

- ``profile:<id>``  the profile as compact JSON (``redis-cli GET`` shows it)
- ``index``         sorted set of cached ids, scored for eviction: a logical clock for
                    LRU (last use) and FIFO (insertion); for LFU the use count times
                    10^12 plus the clock, so that ties go to the least recently used,
                    as in the in-process store
- ``clock``         the logical clock (INCR)
- ``hits``          hash id → reads served
- ``stored_at``     sorted set id → server time (ms) the value was stored: the panes
                    list the youngest entries with one ZREVRANGE
- ``expiry``        sorted set id → server time (ms) the TTL ends, to keep ``index`` exact
                    once Redis has expired a key

The namespace, the eviction policy, the capacity and the TTL are written into the
script text (one set of scripts per store configuration), so each call sends only the
profile key and, for a set, the value. A read hit is a plain GET: the uses it makes
(for LRU/LFU and the hit count) are sent in batches, with the next SET (before it
evicts anything), by TOUCH at least every quarter second, or once 512 have gathered.
Scripts touch keys of their namespace that they derive from the prefix, so they assume
a single Redis server (not Redis Cluster).
"""

from __future__ import annotations

_PROLOGUE = """
local base = '{base}'
local prefix = base .. 'profile:'
local index, hits, clock = base .. 'index', base .. 'hits', base .. 'clock'
local stored, expiry = base .. 'stored_at', base .. 'expiry'
"""

# LFU: uses * 10^12 + clock, written out in full (Lua would print 15 digits as 1.5e+15).
_LFU_USE = """
local score = redis.call('ZSCORE', index, id)
local uses = score and math.min(math.floor(tonumber(score) / 1e12), 8999) or 0
redis.call('ZADD', index, string.format('%.0f', (uses + 1) * 1e12 + redis.call('INCR', clock)), id)
"""

_TOUCH = {
    "lru": "redis.call('ZADD', index, redis.call('INCR', clock), id)",
    "lfu": _LFU_USE,
    "fifo": "redis.call('ZADD', index, 'NX', redis.call('INCR', clock), id)",
}

# Records the uses of ids ARGV[{first}..]: reads served since the last call.
_APPLY_USES = """
for i = {first}, #ARGV do
  local id = ARGV[i]
  if redis.call('EXISTS', prefix .. id) == 1 then
    {touch}
    redis.call('HINCRBY', hits, id, 1)
  end
end
"""

# Forget ids whose TTL ended (Redis already dropped the key): keeps the count exact.
_FORGET_EXPIRED = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local dropped = {}
local function forget(id)
  redis.call('ZREM', index, id)
  redis.call('ZREM', expiry, id)
  redis.call('HDEL', hits, id)
  redis.call('ZREM', stored, id)
end
for _, id in ipairs(redis.call('ZRANGEBYSCORE', expiry, '-inf', now)) do
  if redis.call('EXISTS', prefix .. id) == 0 then
    forget(id)
    table.insert(dropped, 'expire')
    table.insert(dropped, id)
    table.insert(dropped, '')
  end
end
"""

# KEYS[1]: the profile key; ARGV[1]: the value; ARGV[2]: 0, or for a fill (a value
# read from the database) its version: then a newer value already cached (another
# process's update) is kept; ARGV[3..]: uses to record first. Returns a flat list of
# (reason, id, value) for the entries found expired or evicted to make room.
_SET = """
local ttl, capacity = {ttl_ms}, {capacity}
local id = string.sub(KEYS[1], #prefix + 1)
local fill = tonumber(ARGV[2])
if fill > 0 then
  local current = redis.call('GET', KEYS[1])
  if current then
    local ok, value = pcall(cjson.decode, current)
    if ok and type(value) == 'table' and tonumber(value['version'])
        and tonumber(value['version']) >= fill then
      return dropped
    end
  end
end
local known = redis.call('ZSCORE', index, id)
if ttl > 0 then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ttl)
  redis.call('ZADD', expiry, now + ttl, id)
else
  redis.call('SET', KEYS[1], ARGV[1])
end
redis.call('ZADD', stored, now, id)
if not known then
  {insert}
  redis.call('HSET', hits, id, 0)
else
  {overwrite}
end
while redis.call('ZCARD', index) > capacity do
  local victim = redis.call('ZRANGE', index, 0, 0)[1]
  local v = redis.call('GET', prefix .. victim)
  redis.call('DEL', prefix .. victim)
  forget(victim)
  if v then
    table.insert(dropped, 'evict')
    table.insert(dropped, victim)
    table.insert(dropped, v)
  end
end
return dropped
"""

_INSERT = {
    "lru": "redis.call('ZADD', index, redis.call('INCR', clock), id)",
    "lfu": _LFU_USE,
    "fifo": "redis.call('ZADD', index, redis.call('INCR', clock), id)",
}
_OVERWRITE = {  # as the in-process store: an overwrite is a use, FIFO keeps its place
    "lru": "redis.call('ZADD', index, redis.call('INCR', clock), id)",
    "lfu": _LFU_USE,
    "fifo": "",
}

# ARGV: ids. Deletes their entries and bookkeeping; returns how many keys existed.
_DELETE = """
local n = 0
for _, id in ipairs(ARGV) do
  n = n + redis.call('DEL', prefix .. id)
  redis.call('ZREM', index, id)
  redis.call('ZREM', expiry, id)
  redis.call('HDEL', hits, id)
  redis.call('ZREM', stored, id)
end
return n
"""

# Makes the bookkeeping match what Redis holds: forgets expired ids and ids whose key
# was deleted behind the store's back (redis-cli DEL). Returns (reason, id, '') triples.
_RECONCILE = """
for _, id in ipairs(redis.call('ZRANGE', index, 0, -1)) do
  if redis.call('EXISTS', prefix .. id) == 0 then
    forget(id)
    table.insert(dropped, 'gone')
    table.insert(dropped, id)
    table.insert(dropped, '')
  end
end
-- store times of keys gone unindexed (an older version's process deleted them)
for _, id in ipairs(redis.call('ZRANGE', stored, 0, -1)) do
  if redis.call('EXISTS', prefix .. id) == 0 then
    redis.call('ZREM', stored, id)
  end
end
return dropped
"""


# ARGV[1]: how many; ARGV[2..]: uses to record first (so the hit counts are current).
# The panes' listing in one round trip: (server time ms, entries with a store time,
# entries indexed) then, youngest first, (id, stored at ms, hits, value or nil, PTTL ms
# or -1) per entry; a key gone behind the store's back comes with a nil value, one of
# another type (set by hand) with an empty one.
_YOUNGEST = """
local t = redis.call('TIME')
local out = {
  tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000),
  redis.call('ZCARD', stored), redis.call('ZCARD', index)
}
local chosen = redis.call('ZREVRANGE', stored, 0, tonumber(ARGV[1]) - 1, 'WITHSCORES')
for i = 1, #chosen, 2 do
  local id = chosen[i]
  table.insert(out, id)
  table.insert(out, chosen[i + 1])
  table.insert(out, redis.call('HGET', hits, id) or '0')
  local value = redis.pcall('GET', prefix .. id)
  if type(value) == 'table' then value = '' end  -- WRONGTYPE (set by hand): not a profile
  table.insert(out, value)
  table.insert(out, {ttl_ms} > 0 and redis.call('PTTL', prefix .. id) or -1)
end
return out
"""


def scripts(base: str, eviction: str, capacity: int, ttl_ms: int) -> dict[str, str]:
    """The Lua source of TOUCH, SET, DELETE, RECONCILE and YOUNGEST for one store configuration.
    ``base`` is ``cachetui:<ns>:`` with ``<ns>`` made of ``[A-Za-z0-9_.-]`` only."""
    prologue = _PROLOGUE.replace("{base}", base)
    uses = _APPLY_USES.replace("{touch}", _TOUCH[eviction])
    return {
        "TOUCH": prologue + uses.replace("{first}", "1"),
        "SET": prologue
        + uses.replace("{first}", "3")
        + _FORGET_EXPIRED
        + _SET.replace("{ttl_ms}", str(ttl_ms))
        .replace("{capacity}", str(capacity))
        .replace("{insert}", _INSERT[eviction])
        .replace("{overwrite}", _OVERWRITE[eviction]),
        "DELETE": prologue + _DELETE,
        "YOUNGEST": prologue
        + uses.replace("{first}", "2")
        + _YOUNGEST.replace("{ttl_ms}", str(ttl_ms)),
        "RECONCILE": prologue + _FORGET_EXPIRED + _RECONCILE,
    }
