import { z } from 'zod';
import { commonEnv, databaseUrl, httpUrl, loadConfig, milliseconds, port, redisUrl, secret } from '../lib/config.ts';

export const gatewayEnv = {
  ...commonEnv,
  GATEWAY_PORT: port(3000),
  LEGACY_UPSTREAM_URL: httpUrl.default('http://127.0.0.1:8080'),
  LEGACY_HEALTH_PATH: z.string().startsWith('/').default('/'),
  IDP_UPSTREAM_URL: httpUrl.default('http://127.0.0.1:3001'),
  UPSTREAM_TIMEOUT_MS: milliseconds(30_000),
  GATEWAY_ADMIN_TOKEN: secret('dev-only-gateway-admin-token-change-me'),
  DATABASE_URL: databaseUrl.default('sqlite:./data/gateway.sqlite'),
  REDIS_URL: redisUrl,
  REDIS_KEY_PREFIX: z.string().default('idm:'),
};

export type GatewayConfig = ReturnType<typeof loadGatewayConfig>;

export function loadGatewayConfig(env: Record<string, string | undefined> = process.env) {
  return loadConfig(gatewayEnv, env);
}
