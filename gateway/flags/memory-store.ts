import type { FlagStore } from './store.ts';

/**
 * The embedded mode's flag store: one process, so a Map is the whole truth while it runs. It
 * starts from `initial`, the audit log's last state of each route, so a restart keeps the flips.
 */
export function createMemoryFlagStore(initial: Map<string, string> = new Map()): FlagStore {
  const flags = new Map(initial);
  const listeners: Array<(route: string) => void> = [];
  return {
    kind: 'memory',
    async readAll() {
      return new Map(flags);
    },
    async read(route) {
      return flags.get(route);
    },
    async swap(route, next, expected) {
      const previous = flags.get(route);
      if (expected && !(previous === expected.raw || (previous === undefined && expected.orMissing))) return { swapped: false, previous };
      flags.set(route, next);
      queueMicrotask(() => {
        for (const listener of listeners) listener(route);
      });
      return { swapped: true, previous };
    },
    onChange(listener) {
      listeners.push(listener);
    },
    probes: [],
    async close() {},
  };
}
