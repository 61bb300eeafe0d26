-- unreserve_claim.lua: a reserved claim whose customer write failed no longer counts.
-- KEYS[1]  the rep's held set   KEYS[2]  the rep's claim counter for that day
-- ARGV[1]  customer id   ARGV[2]  '1' when the customer is the rep's after all (its own earlier or concurrent
--          claim of it won, or this one's replay): the hold stays, only this reservation's count goes
if ARGV[2] ~= '1' then
  redis.call('ZREM', KEYS[1], ARGV[1])
end
if tonumber(redis.call('GET', KEYS[2]) or '0') > 0 then
  redis.call('DECR', KEYS[2])
end
return 1
