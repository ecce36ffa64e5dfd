package redisstore

import (
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"
)

// Every write is one Lua script, so the record and its four index entries
// change together and a check (exists, version, still active and lapsed)
// holds for the write it guards. KEYS[1] is the record key; the scripts
// build the index keys and the events channel from ARGV. They are not
// declared in KEYS, which Redis Cluster allows because every key of a store
// carries the same hash tag and so lives in KEYS[1]'s slot.
//
// A script refuses with an error reply whose first word is one of the codes
// below; mapError turns it into the ports error.
const (
	codeNotFound = "SENTINEL_NOT_FOUND"
	codeExists   = "SENTINEL_EXISTS"
	codeConflict = "SENTINEL_CONFLICT"
	codeCorrupt  = "SENTINEL_CORRUPT"
)

// luaPrelude is shared by the scripts. Its load refuses every record that
// decodeRecord would, except a _pos that disagrees with created_at (Lua
// cannot redo that arithmetic exactly; reads catch it).
//
// Times are decimal micros and may exceed 2^53, where Lua's doubles lose
// digits, so cmp compares them as strings: sign, then length, then bytes.
// "" (the zero time) compares as the zero time's micros.
var luaPrelude = `
local ZERO = '-62135596800000000'
local function cmp(a, b)
  if a == '' then a = ZERO end
  if b == '' then b = ZERO end
  if a == b then return 0 end
  local na, nb = a:sub(1, 1) == '-', b:sub(1, 1) == '-'
  if na ~= nb then return na and -1 or 1 end
  local r
  if #a ~= #b then r = (#a < #b) and -1 or 1 else r = (a < b) and -1 or 1 end
  if na then return -r end
  return r
end
-- isint accepts canonical decimal integers only, as strconv.FormatInt writes them.
local function isint(s) return s == '0' or string.match(s, '^%-?[1-9]%d*$') ~= nil end
local function fail(code, msg) return redis.error_reply(code .. ' ' .. msg) end
local FIELDS = {` + luaList(allFields) + `}
local INTS = {` + luaSet(intFields) + `}
local TIMES = {` + luaSet(timeFields) + `}
local STATUSES = {` + luaSet(statuses) + `}
-- load returns the record at key, a table by field name, or nil and the
-- error reply: not found, or corrupt when the key holds no sound session
-- record of ours for id.
local function load(key, id)
  -- One HMGET on the common path; pcall turns WRONGTYPE into a value.
  local got = redis.pcall('HMGET', key, '` + fieldSchema + `', unpack(FIELDS))
  if got.err then return nil, fail('` + codeCorrupt + `', 'the record key holds another Redis type') end
  if got[1] ~= '` + schemaVersion + `' then
    if not got[1] and redis.call('EXISTS', key) == 0 then return nil, fail('` + codeNotFound + `', 'no record') end
    return nil, fail('` + codeCorrupt + `', 'no sentinel schema marker (foreign data?)')
  end
  local rec = {}
  for i, name in ipairs(FIELDS) do
    local v = got[i + 1]
    if not v then return nil, fail('` + codeCorrupt + `', 'field ' .. name .. ' is missing') end
    if (INTS[name] or (TIMES[name] and v ~= '')) and not isint(v) then
      return nil, fail('` + codeCorrupt + `', 'field ' .. name .. ' is not an integer')
    end
    rec[name] = v
  end
  if not STATUSES[rec.` + fieldStatus + `] then return nil, fail('` + codeCorrupt + `', 'unknown status') end
  if rec.` + fieldID + ` ~= id then return nil, fail('` + codeCorrupt + `', 'the record holds another id') end
  if cmp(rec.` + fieldVersion + `, '1') < 0 then return nil, fail('` + codeCorrupt + `', 'version below 1') end
  if #rec._pos ~= ` + strconv.Itoa(positionLen) + ` or not string.match(rec._pos, '^%x+$') then
    return nil, fail('` + codeCorrupt + `', 'malformed index position')
  end
  return rec
end
local function idx(base, kind, value) return base .. kind .. ':' .. value end
`

// luaList writes names as Lua string literals separated by commas.
func luaList(names []string) string {
	quoted := make([]string, len(names))
	for i, n := range names {
		quoted[i] = "'" + n + "'"
	}
	return strings.Join(quoted, ", ")
}

// luaSet writes names as the keys of a Lua table of true.
func luaSet(names []string) string {
	entries := make([]string, len(names))
	for i, n := range names {
		entries[i] = "['" + n + "'] = true"
	}
	return strings.Join(entries, ", ")
}

// createScript stores a new record and its index entries.
// ARGV: index base, member, user, profile, status, instance, then field/value
// pairs, version included.
var createScript = redis.NewScript(luaPrelude + `
local key = KEYS[1]
if redis.call('EXISTS', key) == 1 then return fail('` + codeExists + `', 'id taken') end
redis.call('HSET', key, unpack(ARGV, 7))
local base, member = ARGV[1], ARGV[2]
redis.call('ZADD', idx(base, 'user', ARGV[3]), 0, member)
redis.call('ZADD', idx(base, 'profile', ARGV[4]), 0, member)
redis.call('ZADD', idx(base, 'status', ARGV[5]), 0, member)
redis.call('ZADD', idx(base, 'instance', ARGV[6]), 0, member)
return 1
`)

// updateScript replaces a record whose version equals the caller's, moves
// its index entries, and publishes "<status> <id>" when the status changes.
// ARGV: index base, member, user, profile, status, instance, expected
// version, events channel, id, then field/value pairs. Returns the new
// version as a string (a Lua number would round past 2^53).
var updateScript = redis.NewScript(luaPrelude + `
local key, id = KEYS[1], ARGV[9]
local old, err = load(key, id)
if not old then return err end
if old.version ~= ARGV[7] then return fail('` + codeConflict + `', 'stored version ' .. old.version) end
local base, member = ARGV[1], ARGV[2]
local oldMember = old._pos .. id
redis.call('ZREM', idx(base, 'user', old.user), oldMember)
redis.call('ZREM', idx(base, 'profile', old.profile), oldMember)
redis.call('ZREM', idx(base, 'status', old.status), oldMember)
redis.call('ZREM', idx(base, 'instance', old.server_instance_id), oldMember)
redis.call('HSET', key, unpack(ARGV, 10))
redis.call('HINCRBY', key, 'version', 1)
redis.call('ZADD', idx(base, 'user', ARGV[3]), 0, member)
redis.call('ZADD', idx(base, 'profile', ARGV[4]), 0, member)
redis.call('ZADD', idx(base, 'status', ARGV[5]), 0, member)
redis.call('ZADD', idx(base, 'instance', ARGV[6]), 0, member)
if old.status ~= ARGV[5] then redis.call('PUBLISH', ARGV[8], ARGV[5] .. ' ' .. id) end
return redis.call('HGET', key, 'version')
`)

// touchScript adds to request_count, moves last_access_at and updated_at
// forward only, bumps version, and returns the whole record (HGETALL). It
// touches no other field, so it can never undo a revoke.
// ARGV: id, count to add, access time, now.
var touchScript = redis.NewScript(luaPrelude + `
local key = KEYS[1]
local old, err = load(key, ARGV[1])
if not old then return err end
local moved = {}
if cmp(ARGV[3], old.last_access_at) > 0 then moved[#moved + 1] = 'last_access_at'; moved[#moved + 1] = ARGV[3] end
if cmp(ARGV[4], old.updated_at) > 0 then moved[#moved + 1] = 'updated_at'; moved[#moved + 1] = ARGV[4] end
if #moved > 0 then redis.call('HSET', key, unpack(moved)) end
redis.call('HINCRBY', key, 'request_count', ARGV[2])
redis.call('HINCRBY', key, 'version', 1)
return redis.call('HGETALL', key)
`)

// expireScript marks one session expired if, checked here and now, it is
// still stored active and its lease ended at or before now; so a concurrent
// revoke is never overwritten. Publishes "expired <id>". Returns 1 when it
// changed the record, else 0.
// ARGV: index base, now, events channel, id.
var expireScript = redis.NewScript(luaPrelude + `
local key, id = KEYS[1], ARGV[4]
local old, err = load(key, id)
if not old then return err end
if old.status ~= 'active' or old.expires_at == '' or cmp(old.expires_at, ARGV[2]) > 0 then return 0 end
local base, member = ARGV[1], old._pos .. id
redis.call('HSET', key, 'status', 'expired', 'updated_at', ARGV[2])
redis.call('HINCRBY', key, 'version', 1)
redis.call('ZREM', idx(base, 'status', 'active'), member)
redis.call('ZADD', idx(base, 'status', 'expired'), 0, member)
redis.call('PUBLISH', ARGV[3], 'expired ' .. id)
return 1
`)
