// The production store: shared by every idp replica, so everything that decides whether a
// token may be issued (consume, revoke) happens inside Redis in one step, never as a
// read-then-write from one replica that another replica can interleave with.
//
// Layout under `prefix` (default `oidc:`), on top of any ioredis `keyPrefix`:
//   <Model>:<id>               payload as JSON text, with the entry's TTL
//   grant:<grantId>            sorted set of the grant's entries, scored by expiry (ms)
//   uid:<Model>:<uid>          id of the entry with that uid       (Session)
//   userCode:<Model>:<code>    id of the entry with that user code (DeviceCode)
// Index namespaces start lower-case and model names upper-case, so the two cannot collide.
//
// The scripts touch keys they read from the grant index, which standalone Redis and Sentinel
// allow but Redis Cluster does not; this adapter is not meant for Cluster.

import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import { ConsumeConflictError, grantIdOf, lifetimeMs, lookupValues, type LookupField } from './shared.ts';
import type { AdapterPayload, OidcAdapter, OidcAdapterFactory } from './types.ts';

export interface RedisAdapterOptions {
  /** Namespace for every key this adapter writes. Default `oidc:`. */
  prefix?: string;
}

class LuaScript {
  readonly source: string;
  readonly sha: string;

  constructor(source: string) {
    this.source = source;
    this.sha = createHash('sha1').update(source).digest('hex');
  }

  async run(redis: Redis, keys: string[], args: Array<string | number>): Promise<unknown> {
    try {
      return await redis.evalsha(this.sha, keys.length, ...keys, ...args);
    } catch (error) {
      // The script cache is empty after a Redis restart or failover; EVAL loads it again.
      if (!(error instanceof Error) || !error.message.startsWith('NOSCRIPT')) throw error;
      return redis.eval(this.source, keys.length, ...keys, ...args);
    }
  }
}

// KEYS: entry, [grant index when ARGV[4] == '1'], lookup pointers...
// ARGV: payload JSON, lifetime ms ('0' = no expiry), id, has grant, entry key as Redis sees it
// The grant index lives as long as its longest-lived member and sheds expired members on each
// write, so a long refresh-token grant does not accumulate every access token it ever issued.
const UPSERT = new LuaScript(`
local lifetime = tonumber(ARGV[2])
local function put(key, value)
  if lifetime > 0 then
    redis.call('SET', key, value, 'PX', lifetime)
  else
    redis.call('SET', key, value)
  end
end
put(KEYS[1], ARGV[1])
local first = 2
if ARGV[4] == '1' then
  first = 3
  local grant = KEYS[2]
  local time = redis.call('TIME')
  local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
  redis.call('ZREMRANGEBYSCORE', grant, '-inf', now)
  if lifetime > 0 then
    redis.call('ZADD', grant, now + lifetime, ARGV[5])
  else
    redis.call('ZADD', grant, '+inf', ARGV[5])
  end
  local last = redis.call('ZRANGE', grant, -1, -1, 'WITHSCORES')
  if last[2] == 'inf' then
    redis.call('PERSIST', grant)
  else
    redis.call('PEXPIREAT', grant, last[2])
  end
end
for i = first, #KEYS do
  put(KEYS[i], ARGV[3])
end
return 1
`);

// KEYS: entry. Returns 1 when this call consumed it, -1 when it already was, 0 when it is gone.
// The payload is decoded only to read "consumed"; the update appends to the original text,
// because re-encoding with cjson would turn empty arrays into objects and round large numbers.
const CONSUME = new LuaScript(`
local raw = redis.call('GET', KEYS[1])
if not raw then
  return 0
end
local ok, doc = pcall(cjson.decode, raw)
if not ok or type(doc) ~= 'table' or string.sub(raw, 1, 1) ~= '{' or string.sub(raw, -1) ~= '}' then
  return redis.error_reply('ERR ' .. KEYS[1] .. ' does not hold a JSON object')
end
local consumed = doc['consumed']
if consumed ~= nil and consumed ~= cjson.null and consumed ~= false and consumed ~= 0 and consumed ~= '' then
  return -1
end
local now = redis.call('TIME')[1]
local updated
if raw == '{}' then
  updated = '{"consumed":' .. now .. '}'
else
  updated = string.sub(raw, 1, -2) .. ',"consumed":' .. now .. '}'
end
redis.call('SET', KEYS[1], updated, 'KEEPTTL')
return 1
`);

// KEYS: entry, [grant index when ARGV[2] == '1'], lookup pointers...
// ARGV: id, has grant, entry key as Redis sees it
// A pointer is only dropped while it still names this id: a rotated Session keeps its uid, and
// the new id's pointer must survive the old id being destroyed.
const DESTROY = new LuaScript(`
redis.call('DEL', KEYS[1])
local first = 2
if ARGV[2] == '1' then
  first = 3
  redis.call('ZREM', KEYS[2], ARGV[3])
end
for i = first, #KEYS do
  if redis.call('GET', KEYS[i]) == ARGV[1] then
    redis.call('DEL', KEYS[i])
  end
end
return 1
`);

// KEYS: grant index. Its members are full key names, deleted in batches to stay within
// Lua's argument limit.
const REVOKE = new LuaScript(`
local members = redis.call('ZRANGE', KEYS[1], 0, -1)
for i = 1, #members, 1000 do
  redis.call('DEL', unpack(members, i, math.min(i + 999, #members)))
end
redis.call('DEL', KEYS[1])
return #members
`);

function parse(raw: string | null): AdapterPayload | undefined {
  return raw === null ? undefined : (JSON.parse(raw) as AdapterPayload);
}

/**
 * An oidc-provider `adapter` on Redis. `redis` may carry an ioredis `keyPrefix`; keys are
 * written under it and then under `options.prefix`. The connection stays the caller's to close.
 */
export function createRedisAdapterFactory(redis: Redis, options: RedisAdapterOptions = {}): OidcAdapterFactory {
  const prefix = options.prefix ?? 'oidc:';
  // Grant index members are deleted from inside a script, where ioredis cannot add its prefix.
  const serverPrefix = redis.options.keyPrefix ?? '';

  const grantKey = (grantId: string) => `${prefix}grant:${grantId}`;
  const pointerKey = (model: string, field: LookupField, value: string) => `${prefix}${field}:${model}:${value}`;

  return (model: string): OidcAdapter => {
    const entryKey = (id: string) => `${prefix}${model}:${id}`;

    async function find(id: string): Promise<AdapterPayload | undefined> {
      return parse(await redis.get(entryKey(id)));
    }

    async function findBy(field: LookupField, value: string): Promise<AdapterPayload | undefined> {
      const id = await redis.get(pointerKey(model, field, value));
      if (id === null) return undefined;
      const payload = await find(id);
      // A pointer can outlive a change of the entry's uid/userCode; only a match answers.
      return payload?.[field] === value ? payload : undefined;
    }

    async function destroy(id: string): Promise<void> {
      const key = entryKey(id);
      const payload = parse(await redis.get(key));
      if (!payload) return;
      const grantId = grantIdOf(model, payload);
      const keys = [key];
      if (grantId !== undefined) keys.push(grantKey(grantId));
      for (const [field, value] of lookupValues(payload)) keys.push(pointerKey(model, field, value));
      await DESTROY.run(redis, keys, [id, grantId === undefined ? '0' : '1', serverPrefix + key]);
    }

    return {
      async upsert(id, payload, expiresIn) {
        const lifetime = lifetimeMs(expiresIn);
        if (lifetime === 0) return destroy(id);
        const key = entryKey(id);
        const json = JSON.stringify(payload);
        const grantId = grantIdOf(model, payload);
        const keys = [key];
        if (grantId !== undefined) keys.push(grantKey(grantId));
        for (const [field, value] of lookupValues(payload)) keys.push(pointerKey(model, field, value));
        await UPSERT.run(redis, keys, [json, lifetime ?? 0, id, grantId === undefined ? '0' : '1', serverPrefix + key]);
      },

      find,

      findByUid(uid) {
        return findBy('uid', uid);
      },

      findByUserCode(userCode) {
        return findBy('userCode', userCode);
      },

      async consume(id) {
        const outcome = await CONSUME.run(redis, [entryKey(id)], []);
        if (outcome === 1) return;
        throw new ConsumeConflictError(model, id, outcome === -1 ? 'already consumed' : 'not found');
      },

      destroy,

      async revokeByGrantId(grantId) {
        await REVOKE.run(redis, [grantKey(grantId)], []);
      },
    };
  };
}
