-- commit.lua: applies one decided command atomically, or nothing at all.
--
-- KEYS[1]  customer snapshot (string: "<version>\n<json>")
-- KEYS[2]  customer history stream (entry ids <version>-<n>)
-- KEYS[3]  partition's state counts hash
-- KEYS[4]  partition's timer sorted set
-- KEYS[5]  partition's event stream
-- KEYS[6]  idempotency record of the command
-- KEYS[7]  partition's pool of claimable customers: the public pool, or the queue the customer is in
-- KEYS[8]  the pool it was in before (another queue's, when the change moved it; else KEYS[7])
-- KEYS[9]  partition's flow counters of the day: moves, time-in-state buckets, reason codes (analytics)
-- KEYS[10] partition's usage counters of every definition version: states entered, transitions fired
-- KEYS[11…] the indexes the change moves the customer in or out of (state, owner and queue lists)
--
-- ARGV[1]  expected version ('0': the customer must not exist yet)
-- ARGV[2]  new version
-- ARGV[3]  new snapshot ("<new version>\n<json>")
-- ARGV[4]  request digest for the idempotency record
-- ARGV[5]  idempotency record time to live, seconds
-- ARGV[6]  result JSON, stored with the idempotency record (what a retry gets back)
-- ARGV[7]  event stream max length (trimmed approximately)
-- ARGV[8]  customer id
-- ARGV[9]  event JSON for watchers
-- ARGV[10] n, followed by n history entries (JSON)
-- then     n, followed by n (count field, delta) pairs
-- then     n, followed by n timer members to cancel
-- then     n, followed by n (due ms, timer member) pairs to schedule
-- then     pool change: 'free' (unowned: in the pool since now, ms next), 'lease' (claimable when the
--          lease ends, ms next) or 'owned' (held without a lease: not in the pool), then that ms
-- then     n, followed by n flow counter fields, each incremented by one
-- then     n, followed by n usage counter fields, each incremented by one
-- then     n, followed by n (KEYS position, 'add' | 'rem', member) index changes
--
-- Returns  {'ok'} | {'replay', stored result} | {'mismatch'} | {'conflict', current version}

local record = redis.call('GET', KEYS[6])
if record then
  local cut = string.find(record, '\n', 1, true)
  if string.sub(record, 1, cut - 1) == ARGV[4] then
    return {'replay', string.sub(record, cut + 1)}
  end
  return {'mismatch'}
end

local stored = redis.call('GET', KEYS[1])
local current = stored and string.match(stored, '^%d+') or '0'
if current ~= ARGV[1] then
  return {'conflict', current}
end

redis.call('SET', KEYS[1], ARGV[3])

local at = 10
local n = tonumber(ARGV[at])
for i = 1, n do
  redis.call('XADD', KEYS[2], ARGV[2] .. '-' .. (i - 1), 'e', ARGV[at + i])
end
at = at + n + 1

n = tonumber(ARGV[at])
for i = 1, n do
  local field, delta = ARGV[at + 2 * i - 1], tonumber(ARGV[at + 2 * i])
  if redis.call('HINCRBY', KEYS[3], field, delta) <= 0 then
    redis.call('HDEL', KEYS[3], field)
  end
end
at = at + 2 * n + 1

n = tonumber(ARGV[at])
for i = 1, n do
  redis.call('ZREM', KEYS[4], ARGV[at + i])
end
at = at + n + 1

n = tonumber(ARGV[at])
for i = 1, n do
  redis.call('ZADD', KEYS[4], ARGV[at + 2 * i - 1], ARGV[at + 2 * i])
end
at = at + 2 * n + 1

if KEYS[8] ~= KEYS[7] then
  redis.call('ZREM', KEYS[8], ARGV[8])
end
if ARGV[at] == 'free' then
  local since = redis.call('ZSCORE', KEYS[7], ARGV[8])
  if not since or tonumber(since) > tonumber(ARGV[at + 1]) then
    redis.call('ZADD', KEYS[7], ARGV[at + 1], ARGV[8])
  end
elseif ARGV[at] == 'lease' then
  redis.call('ZADD', KEYS[7], ARGV[at + 1], ARGV[8])
else
  redis.call('ZREM', KEYS[7], ARGV[8])
end
at = at + 2

n = tonumber(ARGV[at])
for i = 1, n do
  redis.call('HINCRBY', KEYS[9], ARGV[at + i], 1)
end
at = at + n + 1

n = tonumber(ARGV[at])
for i = 1, n do
  redis.call('HINCRBY', KEYS[10], ARGV[at + i], 1)
end
at = at + n + 1

n = tonumber(ARGV[at])
for i = 1, n do
  local key, member = KEYS[tonumber(ARGV[at + 3 * i - 2])], ARGV[at + 3 * i]
  if ARGV[at + 3 * i - 1] == 'add' then
    redis.call('ZADD', key, 0, member)
  else
    redis.call('ZREM', key, member)
  end
end

redis.call('XADD', KEYS[5], 'MAXLEN', '~', ARGV[7], '*', 'c', ARGV[8], 'v', ARGV[2], 'd', ARGV[9])

redis.call('SET', KEYS[6], ARGV[4] .. '\n' .. ARGV[6], 'EX', ARGV[5])
return {'ok'}
