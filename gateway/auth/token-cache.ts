// A bounded least-recently-used map of verified tokens, each until its own deadline: the bearer
// check of a busy API route then costs a map look-up, and a flood of distinct tokens can only
// push older entries out, never grow the process.
export class TokenCache<V> {
  readonly #entries = new Map<string, { value: V; until: number }>();
  readonly #max: number;

  constructor(max: number) {
    this.#max = max;
  }

  /** The value while `now` is before its deadline (ms, the caller's clock). */
  get(key: string, now: number): V | undefined {
    const entry = this.#entries.get(key);
    if (entry === undefined) return undefined;
    this.#entries.delete(key);
    if (now >= entry.until) return undefined;
    // Re-inserted: a Map iterates in insertion order, so its first key is the least recently used.
    this.#entries.set(key, entry);
    return entry.value;
  }

  set(key: string, value: V, until: number): void {
    if (this.#max <= 0) return;
    this.#entries.delete(key);
    if (this.#entries.size >= this.#max) this.#entries.delete(this.#entries.keys().next().value!);
    this.#entries.set(key, { value, until });
  }

  get size(): number {
    return this.#entries.size;
  }
}
