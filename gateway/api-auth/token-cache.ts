// A bounded least-recently-used map of verified tokens, each until its own deadline: the bearer
// check of a busy API route then costs a map look-up, and a flood of distinct tokens can only
// push older entries out, never grow the process.
export class TokenCache<V> {
  readonly #entries = new Map<string, { value: V; until: number; seq: number }>();
  readonly #max: number;
  /** Counts insertions and refreshes: an entry's `seq` says how far from the front it is. */
  #seq = 0;

  constructor(max: number) {
    this.#max = max;
  }

  /** The value while `now` is before its deadline (ms, the caller's clock). */
  get(key: string, now: number): V | undefined {
    const entry = this.#entries.get(key);
    if (entry === undefined) return undefined;
    if (now >= entry.until) {
      this.#entries.delete(key);
      return undefined;
    }
    // Moved to the back (a Map iterates in insertion order, so its first key is the least recently
    // used) only once it is in the older half: a busy token is not re-inserted on every request.
    if (this.#seq - entry.seq > this.#max >> 1) {
      this.#entries.delete(key);
      entry.seq = ++this.#seq;
      this.#entries.set(key, entry);
    }
    return entry.value;
  }

  set(key: string, value: V, until: number): void {
    if (this.#max <= 0) return;
    this.#entries.delete(key);
    if (this.#entries.size >= this.#max) this.#entries.delete(this.#entries.keys().next().value!);
    this.#entries.set(key, { value, until, seq: ++this.#seq });
  }

  get size(): number {
    return this.#entries.size;
  }
}
