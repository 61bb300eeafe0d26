-- reserve_claim.lua: count a new claim against a rep's caps, before the customer is written.
-- Lapsed leases no longer count. Undone by unreserve_claim.lua if the customer's write fails.
-- KEYS[1]  the rep's held set (customer → lease end ms)
-- KEYS[2]  the rep's claim counter for today
-- ARGV[1]  customer id   ARGV[2]  lease end ms   ARGV[3]  now ms
-- ARGV[4]  most customers held at once ('' = no cap)   ARGV[5]  most claims per day ('' = no cap)
-- Returns  'ok' | 'held' (cap reached) | 'daily' (cap reached)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[3])
if ARGV[4] ~= '' and redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[4]) and not redis.call('ZSCORE', KEYS[1], ARGV[1]) then
  return 'held'
end
if ARGV[5] ~= '' and tonumber(redis.call('GET', KEYS[2]) or '0') >= tonumber(ARGV[5]) then
  return 'daily'
end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
redis.call('INCR', KEYS[2])
redis.call('EXPIRE', KEYS[2], 172800)
return 'ok'
