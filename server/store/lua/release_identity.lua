-- release_identity.lua: undo an identity reservation, or take over a stale one: only if it is as we saw it.
-- KEYS[1]  identity key
-- ARGV[1]  the reservation we expect there (see codec.identity_reservation)
-- ARGV[2]  '' to release it, or the reservation to put in its place
-- Returns  1 when done, 0 when the key holds something else now
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return 0
end
if ARGV[2] == '' then
  redis.call('DEL', KEYS[1])
else
  redis.call('SET', KEYS[1], ARGV[2])
end
return 1
