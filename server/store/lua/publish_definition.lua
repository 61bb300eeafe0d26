-- publish_definition.lua: store a new definition version as a draft, unless its id is taken.
--
-- KEYS[1]  registry texts hash     KEYS[2]  registry status hash     KEYS[3]  registry latest-version hash
-- ARGV[1]  the version's registry id (`name@version`, or `<tenant>:name@version` for a tenant's own)
-- ARGV[2]  the version's document  ARGV[3]  its status record (a draft)
-- ARGV[4]  latest-version field (`<scope>|<name>`)   ARGV[5]  version number
-- ARGV[6]  for a tenant's version: the shared id of the same name@version, which must not exist either
--          (a tenant's customers pinned to a shared version must never find the tenant's under its number)
--
-- Returns  {'ok'} | {'taken', the stored document, the highest version published that the new one must pass:
--           the scope's, and for a tenant's also the shared defaults'}
local stored = redis.call('HGET', KEYS[1], ARGV[1]) or (ARGV[6] ~= '' and redis.call('HGET', KEYS[1], ARGV[6]))
if stored then
  local latest = tonumber(redis.call('HGET', KEYS[3], ARGV[4]) or '0')
  if ARGV[6] ~= '' then
    local shared = string.sub(ARGV[4], (string.find(ARGV[4], '|', 1, true)))  -- `|<name>`
    latest = math.max(latest, tonumber(redis.call('HGET', KEYS[3], shared) or '0'))
  end
  return {'taken', stored, latest}
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[3])
if tonumber(ARGV[5]) > tonumber(redis.call('HGET', KEYS[3], ARGV[4]) or '0') then
  redis.call('HSET', KEYS[3], ARGV[4], ARGV[5])
end
return {'ok'}
