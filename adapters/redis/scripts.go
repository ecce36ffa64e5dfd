package redisstore

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"
)

// Every write is one Lua script, so a record and all its index entries
// change together and a check (exists, version, still live, no other live
// record in a unique index) holds for the write it guards. KEYS[1] is the
// record key; the scripts build the index keys, the keys of other records
// and the events channel from ARGV. They are not declared in KEYS, which
// Redis Cluster allows because every key of a store carries the same hash
// tag and so lives in KEYS[1]'s slot.
//
// The bodies are the same for every record type; each type gets its own
// copy with its layout (fields, statuses, indexes) in the prelude.
//
// A script refuses with an error reply whose first word is one of the codes
// below; mapError turns it into the ports error.
const (
	codeNotFound = "SENTINEL_NOT_FOUND"
	codeExists   = "SENTINEL_EXISTS"
	codeConflict = "SENTINEL_CONFLICT"
	codeCorrupt  = "SENTINEL_CORRUPT"
)

// scripts are one record type's writes.
type scripts struct {
	create, update, expire *redis.Script
}

func buildScripts(l *layout) scripts {
	p := prelude(l)
	return scripts{
		create: redis.NewScript(p + createBody),
		update: redis.NewScript(p + updateBody),
		expire: redis.NewScript(p + expireBody),
	}
}

// prelude is what every script of l's type starts with. Its load refuses
// every record that kind.decode would, except a _pos that disagrees with
// created_at (Lua cannot redo that arithmetic exactly; reads catch it).
//
// Times are decimal micros and may exceed 2^53, where Lua's doubles lose
// digits, so cmp compares them as strings: sign, then length, then bytes.
// "" (the zero time) compares as the zero time's micros.
func prelude(l *layout) string {
	return `
local ZERO = '-62135596800000000'
local POSLEN = ` + strconv.Itoa(positionLen) + `
local NOUN = '` + l.noun + `'
local EVENT = '` + l.eventPrefix + `'
local ANNOUNCE_CREATE = ` + strconv.FormatBool(l.announceCreate) + `
local EXPIRED = '` + l.expired + `'
local FIELDS = {` + luaList(l.fields) + `}
local INTS = {` + luaSet(l.ints) + `}
local BOOLS = {` + luaSet(l.bools) + `}
local OPTIONAL = {` + luaSet(l.optional) + `}
local TIMES = {` + luaSet(l.times) + `}
local STATUSES = {` + luaSet(l.statuses) + `}
local LAPSING = {` + luaSet(l.lapsing) + `}
local IDX = {` + luaIndexes(l.indexes) + `}
local NOT_FOUND, EXISTS, CONFLICT, CORRUPT = '` + codeNotFound + `', '` + codeExists + `', '` + codeConflict + `', '` + codeCorrupt + `'
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
-- load returns the record at key, a table by field name, or nil, an error
-- code and a reason: not found, or corrupt when the key holds no sound
-- record of this type for id.
local function load(key, id)
  -- One HMGET on the common path; pcall turns WRONGTYPE into a value.
  local got = redis.pcall('HMGET', key, '` + fieldSchema + `', unpack(FIELDS))
  if got.err then return nil, CORRUPT, 'the record key holds another Redis type' end
  if got[1] ~= '` + schemaVersion + `' then
    if not got[1] and redis.call('EXISTS', key) == 0 then return nil, NOT_FOUND, 'no record' end
    return nil, CORRUPT, 'no sentinel schema marker (foreign data?)'
  end
  local rec = {}
  for i, name in ipairs(FIELDS) do
    local v = got[i + 1]
    if not v and OPTIONAL[name] then v = INTS[name] and '0' or '' end
    if not v then return nil, CORRUPT, 'field ' .. name .. ' is missing' end
    if (INTS[name] or (TIMES[name] and v ~= '')) and not isint(v) then
      return nil, CORRUPT, 'field ' .. name .. ' is not an integer'
    end
    if BOOLS[name] and v ~= '0' and v ~= '1' then return nil, CORRUPT, 'field ' .. name .. ' is not 0 or 1' end
    rec[name] = v
  end
  if not STATUSES[rec.status] then return nil, CORRUPT, 'unknown status' end
  if rec.id ~= id then return nil, CORRUPT, 'the record holds another id' end
  if cmp(rec.version, '1') < 0 then return nil, CORRUPT, 'version below 1' end
  if #rec._pos ~= POSLEN or not string.match(rec._pos, '^%x+$') then
    return nil, CORRUPT, 'malformed index position'
  end
  return rec
end
-- record reads the field/value pairs of argv from index from.
local function record(argv, from)
  local rec = {}
  for i = from, #argv, 2 do rec[argv[i]] = argv[i + 1] end
  return rec
end
-- live: not lapsed at now (see ports' Lapsed methods).
local function live(rec, now)
  return not (LAPSING[rec.status] and rec.expires_at ~= '' and cmp(rec.expires_at, now) <= 0)
end
-- ixkey is the key of rec's entry in ix, nil when ix leaves rec out; the
-- value is built as index.value builds it in Go.
local function ixkey(base, ix, rec)
  if ix.status and rec.status ~= ix.status then return nil end
  local v = ''
  for i, name in ipairs(ix.fields) do
    if i < #ix.fields then v = v .. #rec[name] .. ':' end
    v = v .. rec[name]
  end
  return base .. ix.name .. ':' .. v
end
local function unindex(base, rec, member)
  for _, ix in ipairs(IDX) do
    local k = ixkey(base, ix, rec)
    if k then redis.call('ZREM', k, member) end
  end
end
local function index(base, rec, member)
  for _, ix in ipairs(IDX) do
    local k = ixkey(base, ix, rec)
    if k then redis.call('ZADD', k, 0, member) end
  end
end
local function announce(channel, status, id) redis.call('PUBLISH', channel, EVENT .. status .. ' ' .. id) end
`
}

// createBody stores a new record and its index entries. A live record is
// refused while a unique index it joins holds another live record at now,
// naming that record; one that cannot be read there refuses it too (the
// store cannot tell whether it is live).
// ARGV: record key prefix, index base, now, events channel, then
// field/value pairs, version included.
const createBody = `
local key, base, now = KEYS[1], ARGV[2], ARGV[3]
if redis.call('EXISTS', key) == 1 then return fail(EXISTS, 'id taken') end
local rec = record(ARGV, 5)
if live(rec, now) then
  for _, ix in ipairs(IDX) do
    local k = ix.unique and ixkey(base, ix, rec)
    if k then
      for _, m in ipairs(redis.call('ZRANGE', k, 0, -1)) do
        local id = string.sub(m, POSLEN + 1)
        local other, code, why = load(ARGV[1] .. id, id)
        if not other and code ~= NOT_FOUND then
          return fail(code, 'the ' .. NOUN .. ' ' .. id .. ' in the way cannot be read: ' .. why)
        end
        if other and ixkey(base, ix, other) == k and live(other, now) then
          return fail(EXISTS, NOUN .. ' ' .. id .. ' is already ' .. ix.status .. ' for this ' .. table.concat(ix.fields, ' and '))
        end
      end
    end
  end
end
redis.call('HSET', key, unpack(ARGV, 5))
index(base, rec, rec._pos .. rec.id)
if ANNOUNCE_CREATE then announce(ARGV[4], rec.status, rec.id) end
return 1
`

// updateBody replaces a record whose version equals the caller's, moves
// its index entries, and publishes the new status when it changes.
// ARGV: index base, expected version, events channel, then field/value
// pairs, version left out. Returns the new version as a string (a Lua
// number would round past 2^53).
const updateBody = `
local key, base = KEYS[1], ARGV[1]
local rec = record(ARGV, 4)
local old, code, why = load(key, rec.id)
if not old then return fail(code, why) end
if old.version ~= ARGV[2] then return fail(CONFLICT, 'stored version ' .. old.version) end
unindex(base, old, old._pos .. rec.id)
redis.call('HSET', key, unpack(ARGV, 4))
redis.call('HINCRBY', key, 'version', 1)
index(base, rec, rec._pos .. rec.id)
if old.status ~= rec.status then announce(ARGV[3], rec.status, rec.id) end
return redis.call('HGET', key, 'version')
`

// expireBody stores expired (and updated_at = now, version+1, nothing else)
// if, checked here and now, the record has lapsed; so a concurrent revoke,
// cancel or close is never overwritten. Returns 1 when it changed the
// record, else 0.
// ARGV: index base, now, events channel, id.
const expireBody = `
local key, base, now, id = KEYS[1], ARGV[1], ARGV[2], ARGV[4]
local old, code, why = load(key, id)
if not old then return fail(code, why) end
if live(old, now) then return 0 end
local member = old._pos .. id
unindex(base, old, member)
old.status, old.updated_at = EXPIRED, now
redis.call('HSET', key, 'status', EXPIRED, 'updated_at', now)
redis.call('HINCRBY', key, 'version', 1)
index(base, old, member)
announce(ARGV[3], EXPIRED, id)
return 1
`

// touchScript adds to request_count, moves last_access_at and updated_at
// forward only, bumps version, and returns the whole record (HGETALL). It
// touches no other field, so it can never undo a revoke. Sessions only.
// ARGV: id, count to add, access time, now.
var touchScript = redis.NewScript(prelude(sessionKind.layout) + `
local key = KEYS[1]
local old, code, why = load(key, ARGV[1])
if not old then return fail(code, why) end
local moved = {}
if cmp(ARGV[3], old.last_access_at) > 0 then moved[#moved + 1] = 'last_access_at'; moved[#moved + 1] = ARGV[3] end
if cmp(ARGV[4], old.updated_at) > 0 then moved[#moved + 1] = 'updated_at'; moved[#moved + 1] = ARGV[4] end
if #moved > 0 then redis.call('HSET', key, unpack(moved)) end
redis.call('HINCRBY', key, 'request_count', ARGV[2])
redis.call('HINCRBY', key, 'version', 1)
return redis.call('HGETALL', key)
`)

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

// luaIndexes writes ixs as the prelude's IDX table.
func luaIndexes(ixs []index) string {
	entries := make([]string, len(ixs))
	for i, ix := range ixs {
		status := "nil"
		if ix.status != "" {
			status = "'" + ix.status + "'"
		}
		entries[i] = fmt.Sprintf("{name = '%s', fields = {%s}, status = %s, unique = %t}", ix.name, luaList(ix.fields), status, ix.unique)
	}
	return strings.Join(entries, ", ")
}
