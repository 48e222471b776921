import type { FlagStore } from './store.ts';

/** The embedded mode's flag store: one process, so a Map is the whole truth. */
export function createMemoryFlagStore(): FlagStore {
  const flags = new Map<string, string>();
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
