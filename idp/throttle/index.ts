import type { Redis } from 'ioredis';
import { createMemoryThrottle } from './memory-throttle.ts';
import { createRedisThrottle } from './redis-throttle.ts';
import type { LoginThrottle, ThrottlePolicy } from './types.ts';

export { createMemoryThrottle } from './memory-throttle.ts';
export { createRedisThrottle } from './redis-throttle.ts';
export { accountKey, addressKey, networkKey, throttleSubjects, userKey } from './subjects.ts';
export { DEFAULT_THROTTLE_POLICY, penaltyFor, validatePolicy } from './types.ts';
export type { LoginThrottle, ThrottleDecision, ThrottlePolicy, ThrottleSubject, ThrottleSubjects } from './types.ts';

/** The idp's configuration rows for the throttle (see idp/config.ts). */
export interface ThrottleConfig {
  IDP_LOGIN_THROTTLE_WINDOW_MS: number;
  IDP_LOGIN_THROTTLE_ACCOUNT_FREE_ATTEMPTS: number;
  IDP_LOGIN_THROTTLE_ADDRESS_FREE_ATTEMPTS: number;
  IDP_LOGIN_THROTTLE_NETWORK_FREE_ATTEMPTS: number;
  IDP_LOGIN_THROTTLE_BASE_DELAY_MS: number;
  IDP_LOGIN_THROTTLE_MAX_DELAY_MS: number;
}

export function throttlePolicyFromConfig(config: ThrottleConfig): ThrottlePolicy {
  return {
    windowMs: config.IDP_LOGIN_THROTTLE_WINDOW_MS,
    accountFreeAttempts: config.IDP_LOGIN_THROTTLE_ACCOUNT_FREE_ATTEMPTS,
    addressFreeAttempts: config.IDP_LOGIN_THROTTLE_ADDRESS_FREE_ATTEMPTS,
    networkFreeAttempts: config.IDP_LOGIN_THROTTLE_NETWORK_FREE_ATTEMPTS,
    baseDelayMs: config.IDP_LOGIN_THROTTLE_BASE_DELAY_MS,
    maxDelayMs: config.IDP_LOGIN_THROTTLE_MAX_DELAY_MS,
  };
}

/** Redis when the idp has one (replicas share the counts), else in-process. */
export function createLoginThrottle(policy: ThrottlePolicy, redis?: Redis): LoginThrottle {
  return redis ? createRedisThrottle(redis, policy) : createMemoryThrottle(policy);
}
