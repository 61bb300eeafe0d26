-- ship_definitions.lua: publish the versions a release ships, all of them or none.
--
-- KEYS[1]  registry texts hash     KEYS[2]  registry status hash     KEYS[3]  registry latest-version hash
-- ARGV     five per version, in turn: its id (name@version), its document, its status record (approved by
--          the release), its latest-version field (`|<name>`), its version number
--
-- A version published already with the same digest stays as it is. One published with another text means the
-- release edited a published version in place (customers on it would get other rules): nothing is written.
--
-- Returns  {'ok'} | {'changed', id, …} (every id published with another text)
local changed, fresh = {}, {}
for i = 1, #ARGV, 5 do
  local stored = redis.call('HGET', KEYS[1], ARGV[i])
  if not stored then
    fresh[#fresh + 1] = i
  elseif cjson.decode(stored).digest ~= cjson.decode(ARGV[i + 1]).digest then
    changed[#changed + 1] = ARGV[i]
  end
end
if #changed > 0 then
  return {'changed', unpack(changed)}
end
for _, i in ipairs(fresh) do
  redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
  redis.call('HSET', KEYS[2], ARGV[i], ARGV[i + 2])
  if tonumber(ARGV[i + 4]) > tonumber(redis.call('HGET', KEYS[3], ARGV[i + 3]) or '0') then
    redis.call('HSET', KEYS[3], ARGV[i + 3], ARGV[i + 4])
  end
end
return {'ok'}
