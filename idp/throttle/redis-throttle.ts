// The Redis throttle: replicas share the counts. Each subject is decided by one Lua script
// (check the block, INCR, PEXPIRE, set the next block) so the check and the count are one
// atomic step. A script touches only its own subject's two keys, which share a hash tag, so
// it also runs on Redis Cluster.
import type { Redis } from 'ioredis';
import {
  freeAttemptsOf,
  isPersonal,
  presentSubjects,
  validatePolicy,
  type LoginThrottle,
  type ThrottlePolicy,
  type ThrottleSubject,
  type ThrottleSubjects,
} from './types.ts';

// KEYS: count, block. ARGV: windowMs, freeAttempts, baseDelayMs, maxDelayMs.
// Returns {1, penaltyMs} when counted, {0, retryAfterMs} when blocked.
const ATTEMPT = `
local blocked = redis.call('PTTL', KEYS[2])
if blocked > 0 then return {0, blocked} end
local n = redis.call('INCR', KEYS[1])
redis.call('PEXPIRE', KEYS[1], ARGV[1])
local free = tonumber(ARGV[2])
if n <= free then return {1, 0} end
local exponent = math.min(n - free - 1, 40)
local penalty = math.min(tonumber(ARGV[3]) * (2 ^ exponent), tonumber(ARGV[4]))
penalty = math.floor(penalty)
if penalty > 0 then redis.call('SET', KEYS[2], '1', 'PX', penalty) end
return {1, penalty}
`;

// KEYS: count. Gives back one counted attempt.
const REFUND = `
local n = tonumber(redis.call('GET', KEYS[1]) or '0')
if n > 0 then redis.call('DECR', KEYS[1]) end
return n
`;

interface ThrottleCommands {
  idmThrottleAttempt(count: string, block: string, windowMs: number, free: number, base: number, max: number): Promise<[number, number]>;
  idmThrottleRefund(count: string): Promise<number>;
}

// Key names per subject; 'acct' and 'addr' predate the others and keep counts across an upgrade.
const KIND: Record<ThrottleSubject, string> = { account: 'acct', user: 'user', address: 'addr', network: 'net' };

export interface RedisThrottleOptions {
  /** Namespace under the connection's own keyPrefix. Default `throttle:`. */
  prefix?: string;
}

export function createRedisThrottle(redis: Redis, policy: ThrottlePolicy, options: RedisThrottleOptions = {}): LoginThrottle {
  validatePolicy(policy);
  const prefix = options.prefix ?? 'throttle:';
  const commands = redis as unknown as Redis & ThrottleCommands;
  if (typeof commands.idmThrottleAttempt !== 'function') {
    redis.defineCommand('idmThrottleAttempt', { numberOfKeys: 2, lua: ATTEMPT });
    redis.defineCommand('idmThrottleRefund', { numberOfKeys: 1, lua: REFUND });
  }
  const keys = (subject: ThrottleSubject, id: string) => {
    const tagged = `${prefix}{${KIND[subject]}:${id}}`;
    return { count: `${tagged}:n`, block: `${tagged}:block` };
  };
  const present = (subjects: ThrottleSubjects) => presentSubjects(subjects).map(([subject, id]) => ({ subject, k: keys(subject, id) }));

  return {
    async attempt(subjects: ThrottleSubjects) {
      const counted: string[] = [];
      let penaltyMs = 0;
      for (const { subject, k } of present(subjects)) {
        const [ok, ms] = await commands.idmThrottleAttempt(
          k.count,
          k.block,
          policy.windowMs,
          freeAttemptsOf(subject, policy),
          policy.baseDelayMs,
          policy.maxDelayMs,
        );
        if (ok !== 1) {
          // The attempt is not made, so the subjects already counted are not charged for it.
          for (const key of counted) await commands.idmThrottleRefund(key);
          return { allowed: false, retryAfterMs: ms, subject };
        }
        counted.push(k.count);
        penaltyMs = Math.max(penaltyMs, ms);
      }
      return { allowed: true, penaltyMs };
    },
    async succeeded(subjects: ThrottleSubjects) {
      for (const { subject, k } of present(subjects)) {
        if (isPersonal(subject)) await redis.del(k.count, k.block);
        else await commands.idmThrottleRefund(k.count);
      }
    },
    async refund(subjects: ThrottleSubjects) {
      for (const { k } of present(subjects)) await commands.idmThrottleRefund(k.count);
    },
  };
}
