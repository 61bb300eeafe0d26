-- promote_definition.lua: move a definition version on in its lifecycle, checked and written at once.
--
-- KEYS[1]  registry status hash     KEYS[2]  registry active hash
-- KEYS[3]  ship: the registry's record of the newest version a release made each shared default
-- ARGV[1]  'approve' | 'activate' | 'ship'
-- ARGV[2]  name@version
-- ARGV[3]  who                      ARGV[4]  when (ms)
-- ARGV[5]  activate, ship: the active field (`<tenant>|<name>`, `|<name>` for the shared defaults)
-- ARGV[6]  activate, ship: '1' when a draft must be approved first
-- ARGV[7]  ship: the version number
--
-- approve:  a draft becomes approved.
-- activate: the version becomes the one new customers of that scope get. When it is the scope's own, it is
--           marked active; a tenant may also activate a shared version for itself, which leaves the shared
--           version's status as it is. Either way the version it replaces, when the scope's own, is retired.
-- ship:     a release's newest version of a name is activated as the shared default once, when it is newer
--           than every version a release shipped before and than the one active: a replica starting again
--           does not undo an admin's rollback, and an older release starting late does not undo a newer one.
--           A retired version was the default once; when an admin (not a release) replaced it, it stays so,
--           also when no record says that a release shipped it (a rollback made before releases kept one).
--           With none active (a registry that lost which), the newest version a release shipped is.
--
-- Returns  {'ok', replaced name@version or ''} | {'refused', current status}
local rid = ARGV[2]
local record = redis.call('HGET', KEYS[1], rid)
if not record then
  return {'refused', 'missing'}
end
local status = cjson.decode(record)

if ARGV[1] == 'approve' then
  if status.status ~= 'draft' then
    return {'refused', status.status}
  end
  status.status, status.approved_by, status.approved_at = 'approved', ARGV[3], tonumber(ARGV[4])
  redis.call('HSET', KEYS[1], rid, cjson.encode(status))
  return {'ok', ''}
end

local function activated_by(id, who)
  local found = redis.call('HGET', KEYS[1], id)
  return found and cjson.decode(found).activated_by == who
end

local scope = string.sub(ARGV[5], 1, string.find(ARGV[5], '|', 1, true) - 1)
local replaced = redis.call('HGET', KEYS[2], ARGV[5]) or ''
local version, shipped = tonumber(ARGV[7]), tonumber(redis.call('HGET', KEYS[3], ARGV[5]) or '0')
if ARGV[1] == 'ship' then
  if replaced == '' then
    -- none active (a registry that lost which): the newest a release shipped, maybe a newer release's than this
    local newest = (string.gsub(rid, '@%d+$', '@' .. shipped))
    local found = shipped > version and redis.call('HGET', KEYS[1], newest)
    if found then
      rid, status = newest, cjson.decode(found)
    end
  elseif version <= shipped then
    return {'ok', ''}
  elseif version <= tonumber(string.match(replaced, '@(%d+)$')) then
    redis.call('HSET', KEYS[3], ARGV[5], ARGV[7])  -- as new a version is the default already: it counts as shipped
    return {'ok', ''}
  elseif status.status == 'retired' and not activated_by(replaced, ARGV[3]) then
    -- the default once and replaced by an admin since (a rollback, maybe made before releases kept this record):
    -- it was shipped. Replaced by a release, it was a race between two releases starting before this record.
    redis.call('HSET', KEYS[3], ARGV[5], ARGV[7])
    return {'ok', ''}
  end
end
if status.status == 'draft' and ARGV[6] == '1' then
  return {'refused', 'draft'}
end
if ARGV[1] == 'ship' and version > shipped then
  redis.call('HSET', KEYS[3], ARGV[5], ARGV[7])
end
if replaced == rid then
  return {'ok', ''}
end
redis.call('HSET', KEYS[2], ARGV[5], rid)
if status.scope == scope then
  status.status, status.activated_by, status.activated_at, status.retired_at = 'active', ARGV[3], tonumber(ARGV[4]), nil
  redis.call('HSET', KEYS[1], rid, cjson.encode(status))
end
-- the version replaced is retired when it was the scope's own, also when a tenant goes back to a shared one
local old = replaced ~= '' and redis.call('HGET', KEYS[1], replaced)
if old then
  old = cjson.decode(old)
  if old.scope == scope then
    old.status, old.retired_at = 'retired', tonumber(ARGV[4])
    redis.call('HSET', KEYS[1], replaced, cjson.encode(old))
  end
end
return {'ok', replaced}
