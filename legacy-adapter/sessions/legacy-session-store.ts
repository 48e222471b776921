// The store interface alone: store.ts picks an implementation (files-store.ts among them), and
// each implementation names the interface it fulfils without importing the factory that picks it.

/** The monolith's session store, as its save handler uses it. */
export interface LegacySessionStore {
  /** Writes a new session; throws if the id is taken (ids are fresh and random: it never is). */
  create(id: string, data: Buffer): Promise<void>;
  /**
   * The data of a live session, as PHP's save handler would read it (the table: last access
   * within the lifetime; Redis: the key, whose TTL is the lifetime; files: modified within the
   * lifetime); undefined when there is none.
   * Reading never refreshes it: only the monolith's own requests keep a session alive.
   */
  read(id: string): Promise<Buffer | undefined>;
  /** Removes the session; true if there was one. */
  destroy(id: string): Promise<boolean>;
  readonly checks: Array<{ name: string; check: () => Promise<unknown> }>;
  close(): Promise<void>;
}
