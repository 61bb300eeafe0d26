-- erase.lua: erases one customer atomically (GDPR-style), leaving only an audit entry without its details.
--
-- KEYS[1]  customer snapshot
-- KEYS[2]  customer history stream
-- KEYS[3]  partition's state counts hash
-- KEYS[4]  partition's timer sorted set
-- KEYS[5]  partition's event stream
-- KEYS[6]  the pool (public or a queue's) the customer is in
-- KEYS[7]  partition's audit stream
-- KEYS[8…] the indexes the customer is in (state, owner and queue lists)
--
-- ARGV[1]  the version read (the erasure is refused when the customer changed since)
-- ARGV[2]  event stream max length (trimmed approximately)
-- ARGV[3]  customer id
-- ARGV[4]  event JSON for watchers (the erasure as a history entry of the next version)
-- ARGV[5]  audit entry JSON (who, when, why, which definition; none of the customer's details)
-- ARGV[6]  n, followed by n state count fields to decrement
-- then     n, followed by n timer members to cancel
-- then     n, followed by n members to remove, one from each of KEYS[8…]
--
-- Returns  {'ok'} | {'conflict', current version ('0': there is no such customer)}

local stored = redis.call('GET', KEYS[1])
local current = stored and string.match(stored, '^%d+') or '0'
if current ~= ARGV[1] then
  return {'conflict', current}
end

redis.call('DEL', KEYS[1], KEYS[2])
local at = 6
local n = tonumber(ARGV[at])
for i = 1, n do
  if redis.call('HINCRBY', KEYS[3], ARGV[at + i], -1) <= 0 then
    redis.call('HDEL', KEYS[3], ARGV[at + i])
  end
end
at = at + n + 1
n = tonumber(ARGV[at])
for i = 1, n do
  redis.call('ZREM', KEYS[4], ARGV[at + i])
end
at = at + n + 1
n = tonumber(ARGV[at])
for i = 1, n do
  redis.call('ZREM', KEYS[7 + i], ARGV[at + i])
end
redis.call('ZREM', KEYS[6], ARGV[3])
redis.call('XADD', KEYS[5], 'MAXLEN', '~', ARGV[2], '*', 'c', ARGV[3], 'v', tonumber(ARGV[1]) + 1, 'd', ARGV[4])
redis.call('XADD', KEYS[7], '*', 'c', ARGV[3], 'a', ARGV[5])
return {'ok'}
