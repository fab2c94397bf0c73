import type { RedisClient } from '../redis/connection.js';
import { RedisScript } from '../redis/script.js';

/*
 * The Lua steps of continuations. Each runs over the keys of ONE queue's slot (see keys.ts), so a
 * registration and the marking half of a release are atomic on standalone, Sentinel and Cluster.
 */

/**
 * Registration. KEYS: spec, links, pending, due, parent job hash, parent queue's completed set,
 * its failed set, the parent's pointer (a parent that is itself an awaiting continuation),
 * [the continuation's own pointer, when it is in this slot].
 * ARGV: member (`cq/cid`), parent id, now, due-at, channel, message, parent queue, then the
 * spec's field/value pairs. A pointer naming another parent queue, or `released` (registered on
 * a parent of another queue and released: its spec is in that queue's slot), is the same key
 * registered before: a duplicate. The pointer of an awaiting continuation never expires: it lives
 * as long as its parent may take (a chain under a parent delayed for months), until the release.
 * Returns {'created', parentState} | {'duplicate', state, name} | {'duplicate-elsewhere', queue} | {'missing'}.
 */
const REGISTER = `
local existing = redis.call('HMGET', KEYS[1], 'state', 'name')
if existing[1] then return {'duplicate', existing[1], existing[2]} end
if KEYS[9] then
  local owner = redis.call('GET', KEYS[9])
  if owner and owner ~= ARGV[7] then return {'duplicate-elsewhere', owner} end
end
local ptr = redis.call('GET', KEYS[8])
if redis.call('EXISTS', KEYS[5]) == 0 and (not ptr or ptr == 'released') then return {'missing'} end
local fields = {}
for i = 8, #ARGV do fields[#fields + 1] = ARGV[i] end
redis.call('HSET', KEYS[1], unpack(fields))
redis.call('SADD', KEYS[2], ARGV[1])
redis.call('HSETNX', KEYS[3], ARGV[2], ARGV[3])
redis.call('ZADD', KEYS[4], 'LT', ARGV[4], ARGV[2])
if KEYS[9] then redis.call('SET', KEYS[9], ARGV[7]) end
redis.call('PUBLISH', ARGV[5], ARGV[6])
if redis.call('ZSCORE', KEYS[6], ARGV[2]) then return {'created', 'completed'} end
if redis.call('ZSCORE', KEYS[7], ARGV[2]) then return {'created', 'failed'} end
return {'created', 'pending'}
`;

/**
 * Marking half of a release: decides the parent's outcome from its own keys (or the hint the
 * worker saw, when retention already removed the job), marks every awaiting continuation
 * released / cancelled, and returns those not started yet (again after a crash: adding them is
 * idempotent, their job id is deterministic). KEYS: links, parent job hash, completed set, failed
 * set, parent's pointer. ARGV: parent id, spec key prefix, hint state, hint return value (JSON),
 * hint failed reason.
 * Returns {'unfinished'} | {'finished', state, returnValue, failedReason, (cq, cid, name, data, opts, state)...}.
 */
const RELEASE = `
local state, rv, reason
if redis.call('ZSCORE', KEYS[3], ARGV[1]) then
  state = 'completed'; rv = redis.call('HGET', KEYS[2], 'returnvalue') or 'null'; reason = ''
elseif redis.call('ZSCORE', KEYS[4], ARGV[1]) then
  state = 'failed'; rv = 'null'; reason = redis.call('HGET', KEYS[2], 'failedReason') or 'unknown reason'
else
  local ptr = redis.call('GET', KEYS[5])
  if redis.call('EXISTS', KEYS[2]) == 1 or (ptr and ptr ~= 'released') then return {'unfinished'} end
  if ARGV[3] ~= '' then
    state = ARGV[3]; rv = ARGV[4]; reason = ARGV[5]
  else
    state = 'missing'; rv = 'null'; reason = 'parent job no longer exists'
  end
end
local out = {'finished', state, rv, reason}
for _, member in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local slash = string.find(member, '/', 1, true)
  local cq = string.sub(member, 1, slash - 1)
  local cid = string.sub(member, slash + 1)
  local key = ARGV[2] .. cq .. ':' .. cid
  local s = redis.call('HMGET', key, 'state', 'name', 'data', 'opts', 'on', 'started')
  local cstate = s[1]
  if cstate == 'awaiting' then
    if s[5] == 'success' and state ~= 'completed' then cstate = 'cancelled' else cstate = 'released' end
    redis.call('HSET', key, 'state', cstate, 'parentState', state)
  end
  if (cstate == 'released' or cstate == 'cancelled') and not s[6] then
    out[#out + 1] = cq; out[#out + 1] = cid; out[#out + 1] = s[2]; out[#out + 1] = s[3]; out[#out + 1] = s[4]; out[#out + 1] = cstate
  end
end
return out
`;

/**
 * The sweep's claim: parents due for a check, leased to this worker for a while so that workers
 * sweeping at once do not all check the same parent. KEYS: due. ARGV: now, lease-until, limit.
 */
const CLAIM = `
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[3]))
for _, id in ipairs(ids) do redis.call('ZADD', KEYS[1], 'XX', ARGV[2], id) end
return ids
`;

/**
 * A claimed parent that has not finished yet: check it again later, backing off with its age
 * (safety net only; its worker releases it when it ends). Only if nobody moved its check since the
 * claim (a worker marks a parent due the moment it finishes). KEYS: due, pending. ARGV: parent id,
 * lease-until, now, min wait, max wait.
 */
const RESCHEDULE = `
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not score or tonumber(score) ~= tonumber(ARGV[2]) then return 0 end
local now = tonumber(ARGV[3])
local since = tonumber(redis.call('HGET', KEYS[2], ARGV[1]) or ARGV[3])
local wait = math.min(math.max(2 * (now - since), tonumber(ARGV[4])), tonumber(ARGV[5]))
redis.call('ZADD', KEYS[1], 'XX', now + wait, ARGV[1])
return 1
`;

/**
 * Withdrawal of an awaiting continuation (a cancel). KEYS: spec. ARGV: who, seconds to keep it.
 * Returns 1 when it was awaiting (now withdrawn), 0 otherwise.
 */
const WITHDRAW = `
if redis.call('HGET', KEYS[1], 'state') ~= 'awaiting' then return 0 end
redis.call('HSET', KEYS[1], 'state', 'withdrawn', 'withdrawnBy', ARGV[1])
redis.call('EXPIRE', KEYS[1], ARGV[2])
return 1
`;

const SCRIPTS = {
  jcContRegister: new RedisScript('ContRegister', REGISTER),
  jcContRelease: new RedisScript('ContRelease', RELEASE),
  jcContClaim: new RedisScript('ContClaim', CLAIM),
  jcContReschedule: new RedisScript('ContReschedule', RESCHEDULE),
  jcContWithdraw: new RedisScript('ContWithdraw', WITHDRAW),
} as const;
export type ScriptName = keyof typeof SCRIPTS;

/** Runs one of the scripts above. */
export function runScript(redis: RedisClient, name: ScriptName, keys: readonly string[], args: readonly (string | number)[]): Promise<unknown> {
  return SCRIPTS[name].run(redis, keys, args);
}
