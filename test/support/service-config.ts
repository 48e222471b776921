// Which service a container runs and whether the environment it is given would let that service
// start: the zod loaders the services themselves call, with nothing from the test's own environment.
import { loadGatewayConfig } from '../../gateway/config.ts';
import { loadIdpConfig } from '../../idp/config.ts';
import { loadLegacyAdapterConfig } from '../../legacy-adapter/config.ts';
import { ConfigError } from '../../lib/config.ts';

const loaders = {
  gateway: loadGatewayConfig,
  idp: loadIdpConfig,
  'legacy-adapter': loadLegacyAdapterConfig,
} as const;

export type ServiceName = keyof typeof loaders;

/** The service whose code a command line runs (`node dist/<service>/main.js`, or one of its CLIs under `sh -c`), if any. */
export function serviceOfCommand(argv: readonly string[]): ServiceName | undefined {
  return /\bdist\/(gateway|idp|legacy-adapter)\//.exec(argv.join(' '))?.[1] as ServiceName | undefined;
}

/** The configuration error `service` would stop with under exactly `env`, or undefined when it would start. */
export function configProblem(service: ServiceName, env: Record<string, string>): string | undefined {
  try {
    loaders[service](env);
    return undefined;
  } catch (error) {
    if (error instanceof ConfigError) return error.message;
    throw error;
  }
}
