/**
 * A token bucket: holds up to `burst` tokens, refilled at `perSecond`. Times are milliseconds of a
 * monotonic clock (performance.now()), so a wall-clock jump neither floods nor starves it.
 */
export class TokenBucket {
  readonly #perMs: number;
  readonly #burst: number;
  #tokens: number;
  #at: number;

  constructor(perSecond: number, burst: number, now: number) {
    this.#perMs = perSecond / 1000;
    this.#burst = burst;
    this.#tokens = burst;
    this.#at = now;
  }

  /** Takes one token if there is one. */
  take(now: number): boolean {
    this.#refill(now);
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }

  #refill(now: number) {
    if (now > this.#at) this.#tokens = Math.min(this.#burst, this.#tokens + (now - this.#at) * this.#perMs);
    this.#at = now;
  }
}

/**
 * One bucket per key (a client address), at most `maxKeys` of them, the least recently used
 * forgotten first (in constant time: a flood from many addresses must not make each request scan).
 * Forgetting a key gives it a fresh bucket; the global budget, not this one, bounds the total.
 */
export class KeyedBudget {
  readonly #buckets = new Map<string, TokenBucket>();
  readonly #perSecond: number;
  readonly #burst: number;
  readonly #maxKeys: number;

  constructor(perSecond: number, burst: number, maxKeys: number) {
    this.#perSecond = perSecond;
    this.#burst = burst;
    this.#maxKeys = maxKeys;
  }

  get size(): number {
    return this.#buckets.size;
  }

  take(key: string, now: number): boolean {
    let bucket = this.#buckets.get(key);
    if (bucket)
      this.#buckets.delete(key); // re-inserted below: the Map's order is recency
    else {
      if (this.#buckets.size >= this.#maxKeys) this.#evictOldest();
      bucket = new TokenBucket(this.#perSecond, this.#burst, now);
    }
    this.#buckets.set(key, bucket);
    return bucket.take(now);
  }

  #evictOldest() {
    const oldest = this.#buckets.keys().next().value;
    if (oldest !== undefined) this.#buckets.delete(oldest);
  }
}
