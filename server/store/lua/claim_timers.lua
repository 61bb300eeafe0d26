-- claim_timers.lua: take up to `limit` due timers of one partition for one worker.
-- A claimed timer is pushed `lease` ms into the future: no other worker sees it meanwhile, and if this
-- worker dies before settling it, it comes due again when the lease ends (at-least-once; firing is
-- idempotent).
-- KEYS[1]  partition's timer sorted set (member "customer|timer key", score = due ms)
-- ARGV[1]  now (ms)   ARGV[2]  lease (ms)   ARGV[3]  limit
-- Returns  {member, lease score, due ms, member, lease score, due ms, ...}
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'WITHSCORES', 'LIMIT', 0, tonumber(ARGV[3]))
local lease = tonumber(ARGV[1]) + tonumber(ARGV[2])
local claimed = {}
for n = 1, #due, 2 do
  redis.call('ZADD', KEYS[1], lease, due[n])
  claimed[#claimed + 1] = due[n]
  claimed[#claimed + 1] = tostring(lease)
  claimed[#claimed + 1] = due[n + 1]
end
return claimed
