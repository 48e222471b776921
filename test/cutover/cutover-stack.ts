// One stack per sample monolith for the cutover matrix: the monolith, its legacy-adapter, and the
// idp and gateway of scripts/support/stack.ts configured with the monolith's shipped routes
// and resources files. Switching the session store restarts only what reads it: php and the
// legacy-adapter (on their ports); the idp and the gateway keep running.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { flipRoute } from '../support/gateway.ts';
import { ADAPTER_SECRET, BRIDGE_SECRET } from '../../scripts/support/legacy-adapter.ts';
import { startFront, type Front } from '../../scripts/support/stack.ts';
import { startServiceProcess, type SpawnedService } from '../../scripts/support/processes.ts';
import type { Monolith, StoreKind } from './monoliths.ts';

export const ADMIN_TOKEN = 'test-admin-token-for-the-cutover-matrix-0123';

export interface CutoverStack {
  monolith: Monolith;
  gateway: string;
  front: Front;
  /** Restarts php and the legacy-adapter with the monolith's sessions in `store`. */
  useStore(store: StoreKind): Promise<void>;
  flip(route: string, mode: 'legacy' | 'idp'): Promise<void>;
  outputs(): string;
  stop(): Promise<void>;
}

export async function startCutoverStack(monolith: Monolith, first: StoreKind): Promise<CutoverStack> {
  const dir = mkdtempSync(join(tmpdir(), `cutover-${monolith.name}-`));
  let adapter: SpawnedService | undefined;
  let adapterPort: number | undefined;
  let adapterOutput = '';
  const useStore = async (store: StoreKind) => {
    if (adapter) {
      adapterOutput += adapter.output();
      await adapter.stop();
    }
    const { mappingFile, adapterEnv } = await monolith.useStore(store, dir);
    adapter = await startServiceProcess(
      'legacy-adapter/main.ts',
      'LEGACY_ADAPTER_PORT',
      {
        LEGACY_DATABASE_URL: monolith.dbUrl,
        LEGACY_MAPPING_FILE: mappingFile,
        LEGACY_ADAPTER_SECRET: ADAPTER_SECRET,
        LEGACY_SESSION_BRIDGE_SECRET: BRIDGE_SECRET,
        ...adapterEnv,
      },
      adapterPort,
    );
    adapterPort = Number(new URL(adapter.url).port);
  };
  let front: Front | undefined;
  try {
    await useStore(first);
    front = await startFront({
      dir,
      legacyUrl: monolith.url,
      legacyHealthPath: monolith.healthPath,
      adapterUrl: adapter!.url,
      clients: { firstParty: true, apiScopes: [monolith.api.readScope, monolith.api.otherScope] },
      env: {
        idp: { IDP_RESOURCES_FILE: monolith.resourcesFile },
        gateway: { GATEWAY_ROUTES_FILE: monolith.routesFile, GATEWAY_ADMIN_TOKEN: ADMIN_TOKEN },
      },
    });
  } catch (error) {
    await adapter?.stop();
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  const running = front;
  return {
    monolith,
    gateway: running.gateway,
    front: running,
    useStore,
    flip: (route, mode) => flipRoute(running.gateway, ADMIN_TOKEN, route, { mode }, 'cutover matrix'),
    outputs: () => running.outputs() + adapterOutput + (adapter?.output() ?? ''),
    async stop() {
      await Promise.all([running.stop(), adapter?.stop()]);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
