-- read.lua: a customer as a command needs it, in one round trip.
-- KEYS[1]  customer snapshot (string: "<version>\n<json>")
-- KEYS[2]  the command's idempotency record, or KEYS[1] again when only the snapshot is wanted
-- Returns  {snapshot or false, idempotency record or false}
local record = false
if KEYS[2] ~= KEYS[1] then
  record = redis.call('GET', KEYS[2])
end
return {redis.call('GET', KEYS[1]), record}
