// The store behind the embedded single-machine mode. Unlike oidc-provider's development
// MemoryAdapter (an LRU that silently drops the oldest sessions and codes once full), a live
// entry here is only ever removed by expiry, destroy or revocation; when the bound is reached
// a write fails loudly instead.

import { ConsumeConflictError, epochSeconds, grantIdOf, isConsumed, lifetimeMs, lookupValues, type LookupField } from './shared.ts';
import type { AdapterPayload, OidcAdapter, OidcAdapterFactory } from './types.ts';

export interface MemoryAdapterOptions {
  /** Upper bound on stored entries (indexes are bounded by it too). Default 100 000. */
  maxEntries?: number;
  /** How often, at most, a write also drops expired entries. Default 60 s. */
  sweepIntervalMs?: number;
  /** Share one store between several factories, e.g. to model two adapter instances. */
  store?: MemoryAdapterStore;
}

export class MemoryAdapterFullError extends Error {
  constructor(maxEntries: number) {
    super(
      `the in-memory OIDC store holds ${maxEntries} live entries and refuses more rather than ` +
        'evict sessions or tokens that are still valid; raise maxEntries or configure Redis',
    );
    this.name = 'MemoryAdapterFullError';
  }
}

interface Entry {
  // Kept serialised so callers get a fresh copy on every read and cannot mutate the store,
  // and so what survives a round trip is exactly what survives one through Redis.
  json: string;
  expiresAt: number;
  grantId: string | undefined;
  pointers: string[];
}

const DEFAULT_MAX_ENTRIES = 100_000;
const DEFAULT_SWEEP_INTERVAL_MS = 60_000;

export class MemoryAdapterStore {
  readonly #entries = new Map<string, Entry>();
  readonly #grants = new Map<string, Set<string>>();
  /** lookup key (uid/userCode) -> entry key; lives and dies with the entry it points at. */
  readonly #pointers = new Map<string, string>();
  readonly #maxEntries: number;
  readonly #sweepIntervalMs: number;
  #lastSweep = Date.now();

  constructor(options: Omit<MemoryAdapterOptions, 'store'> = {}) {
    this.#maxEntries = options.maxEntries ?? DEFAULT_MAX_ENTRIES;
    this.#sweepIntervalMs = options.sweepIntervalMs ?? DEFAULT_SWEEP_INTERVAL_MS;
    if (!Number.isInteger(this.#maxEntries) || this.#maxEntries < 1) {
      throw new RangeError(`maxEntries must be a positive integer, got ${this.#maxEntries}`);
    }
  }

  /** Entries currently held, expired-but-not-yet-swept ones included. */
  get size(): number {
    return this.#entries.size;
  }

  /** Drops every expired entry with its index records; returns how many were dropped. */
  sweep(now = Date.now()): number {
    this.#lastSweep = now;
    let dropped = 0;
    for (const [key, entry] of this.#entries) {
      if (entry.expiresAt <= now) {
        this.#remove(key);
        dropped += 1;
      }
    }
    return dropped;
  }

  get(key: string): AdapterPayload | undefined {
    const entry = this.#live(key);
    return entry ? (JSON.parse(entry.json) as AdapterPayload) : undefined;
  }

  set(model: string, id: string, key: string, payload: AdapterPayload, expiresIn: number | undefined): void {
    const lifetime = lifetimeMs(expiresIn);
    const now = Date.now();
    if (now - this.#lastSweep >= this.#sweepIntervalMs) this.sweep(now);
    if (lifetime === 0) {
      this.#remove(key);
      return;
    }
    // Serialise before touching the store so an unserialisable payload leaves it unchanged.
    const json = JSON.stringify(payload);
    const existed = this.#remove(key);
    if (!existed && this.#entries.size >= this.#maxEntries && this.sweep(now) === 0) {
      throw new MemoryAdapterFullError(this.#maxEntries);
    }

    const expiresAt = lifetime === undefined ? Infinity : now + lifetime;
    const grantId = grantIdOf(model, payload);
    const pointers = lookupValues(payload).map(([field, value]) => pointerKey(model, field, value));
    this.#entries.set(key, { json, expiresAt, grantId, pointers });
    if (grantId !== undefined) {
      let members = this.#grants.get(grantId);
      if (!members) this.#grants.set(grantId, (members = new Set()));
      members.add(key);
    }
    for (const pointer of pointers) this.#pointers.set(pointer, key);
  }

  lookup(model: string, field: LookupField, value: string): AdapterPayload | undefined {
    const key = this.#pointers.get(pointerKey(model, field, value));
    if (key === undefined) return undefined;
    const payload = this.get(key);
    // An entry re-saved under another uid/userCode must not answer for the old one.
    return payload?.[field] === value ? payload : undefined;
  }

  consume(model: string, id: string, key: string): void {
    const entry = this.#live(key);
    if (!entry) throw new ConsumeConflictError(model, id, 'not found');
    const payload = JSON.parse(entry.json) as AdapterPayload;
    if (isConsumed(payload)) throw new ConsumeConflictError(model, id, 'already consumed');
    payload.consumed = epochSeconds();
    entry.json = JSON.stringify(payload);
  }

  delete(key: string): void {
    this.#remove(key);
  }

  revokeGrant(grantId: string): void {
    const members = this.#grants.get(grantId);
    if (!members) return;
    for (const key of [...members]) this.#remove(key);
    this.#grants.delete(grantId);
  }

  #live(key: string): Entry | undefined {
    const entry = this.#entries.get(key);
    if (entry && entry.expiresAt <= Date.now()) {
      this.#remove(key);
      return undefined;
    }
    return entry;
  }

  #remove(key: string): boolean {
    const entry = this.#entries.get(key);
    if (!entry) return false;
    this.#entries.delete(key);
    if (entry.grantId !== undefined) {
      const members = this.#grants.get(entry.grantId);
      members?.delete(key);
      if (members?.size === 0) this.#grants.delete(entry.grantId);
    }
    for (const pointer of entry.pointers) {
      // Another entry may have taken the uid/userCode over since; its pointer stays.
      if (this.#pointers.get(pointer) === key) this.#pointers.delete(pointer);
    }
    return true;
  }
}

function entryKey(model: string, id: string): string {
  return `${model}:${id}`;
}

function pointerKey(model: string, field: LookupField, value: string): string {
  return `${field}:${model}:${value}`;
}

/**
 * An oidc-provider `adapter` backed by process memory. Every adapter the factory hands out
 * shares one store, so create one factory per Provider.
 */
export function createMemoryAdapterFactory(options: MemoryAdapterOptions = {}): OidcAdapterFactory {
  const store = options.store ?? new MemoryAdapterStore(options);
  return (model: string): OidcAdapter => ({
    async upsert(id, payload, expiresIn) {
      store.set(model, id, entryKey(model, id), payload, expiresIn);
    },
    async find(id) {
      return store.get(entryKey(model, id));
    },
    async findByUid(uid) {
      return store.lookup(model, 'uid', uid);
    },
    async findByUserCode(userCode) {
      return store.lookup(model, 'userCode', userCode);
    },
    async consume(id) {
      store.consume(model, id, entryKey(model, id));
    },
    async destroy(id) {
      store.delete(entryKey(model, id));
    },
    async revokeByGrantId(grantId) {
      store.revokeGrant(grantId);
    },
  });
}
