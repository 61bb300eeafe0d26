-- read.lua: a customer as a command needs it, in one round trip.
-- KEYS[1]  customer hash (fields v, doc)
-- KEYS[2]  the command's idempotency key, or KEYS[1] again when it has none
-- Returns  {version or false, snapshot JSON or false, idempotency record or false}
local current = redis.call('HMGET', KEYS[1], 'v', 'doc')
local record = false
if KEYS[2] ~= KEYS[1] then
  record = redis.call('GET', KEYS[2])
end
return {current[1], current[2], record}
