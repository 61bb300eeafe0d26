-- settle_timer.lua: after a worker handled a claimed timer that did not fire: drop it, or put it back
-- at its real due time. Only if it still carries the worker's lease (a commit may have rescheduled it).
-- KEYS[1]  partition's timer sorted set
-- ARGV[1]  member   ARGV[2]  lease score it was claimed with   ARGV[3]  due ms to reschedule at ('' = drop)
-- Returns  1 when settled, 0 when someone else changed it meanwhile
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not score or tonumber(score) ~= tonumber(ARGV[2]) then
  return 0
end
if ARGV[3] == '' then
  redis.call('ZREM', KEYS[1], ARGV[1])
else
  redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
end
return 1
