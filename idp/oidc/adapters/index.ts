import type { Redis } from 'ioredis';
import { createMemoryAdapterFactory, type MemoryAdapterOptions } from './memory-adapter.ts';
import { createRedisAdapterFactory } from './redis-adapter.ts';
import type { OidcAdapterFactory } from './types.ts';

export { ConsumeConflictError, GRANTABLE_MODELS } from './shared.ts';
export { createMemoryAdapterFactory, MemoryAdapterFullError, MemoryAdapterStore } from './memory-adapter.ts';
export type { MemoryAdapterOptions } from './memory-adapter.ts';
export { createRedisAdapterFactory } from './redis-adapter.ts';
export type { RedisAdapterOptions } from './redis-adapter.ts';
export type { AdapterPayload, OidcAdapter, OidcAdapterFactory } from './types.ts';

export interface OidcAdapterOptions {
  /** When given, state is shared through Redis (several replicas); otherwise it is in-process. */
  redis?: Redis;
  /** Redis key namespace, under the connection's own keyPrefix. Default `oidc:`. */
  prefix?: string;
  /** Bounds for the in-process store; ignored with Redis. */
  memory?: MemoryAdapterOptions;
}

/**
 * The value for oidc-provider's `adapter` option. Call it once per Provider: the in-process
 * store lives in the returned factory.
 */
export function createOidcAdapter(options: OidcAdapterOptions = {}): OidcAdapterFactory {
  if (options.redis) return createRedisAdapterFactory(options.redis, { prefix: options.prefix });
  return createMemoryAdapterFactory(options.memory);
}
