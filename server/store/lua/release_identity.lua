-- release_identity.lua: undo an identity reservation, only if it is still ours.
-- KEYS[1]  identity key
-- ARGV[1]  customer id that reserved it
-- Returns  1 when released, 0 when it belongs to someone else
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
