// Wrapping cheap legacy hashes in PBKDF2 without the password (schemes/wrapped.ts), one hash or
// a batch of them on every thread of libuv's pool.
import { wrapped } from './registry.ts';
import type { WrapInput } from './schemes/wrapped.ts';
import { libuvGate } from './workers/gate.ts';

export { checkWrapIterations, WRAPPED_SCHEME, type WrapInput } from './schemes/wrapped.ts';

/**
 * 10,000 PBKDF2-HMAC-SHA256 iterations per wrapped row (README.md, "Wrapped legacy hashes"):
 * every copied row pays one at import, so the count sets how long the copy of the whole table
 * takes, while a wrapped hash only lives until its user's next login replaces it with the
 * policy's 600,000.
 */
export const DEFAULT_WRAP_ITERATIONS = 10_000;

/** The wrapped form of a cheap legacy hash; null for any other (bcrypt, argon2, sha-crypt, PBKDF2, unknown). */
export function wrapLegacyHash(input: WrapInput, iterations: number = DEFAULT_WRAP_ITERATIONS): Promise<string | null> {
  return wrapped.wrap(input, iterations);
}

/**
 * Wraps every input, in order, with at most one job per libuv thread in flight: all cores stay
 * busy, and the gate's queue (which a login needs too) is never filled by a batch.
 */
export async function wrapLegacyHashes(inputs: readonly WrapInput[], iterations: number = DEFAULT_WRAP_ITERATIONS): Promise<(string | null)[]> {
  const out: (string | null)[] = new Array<string | null>(inputs.length).fill(null);
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < inputs.length) {
      const i = next++;
      out[i] = await wrapped.wrap(inputs[i] as WrapInput, iterations);
    }
  };
  await Promise.all(Array.from({ length: Math.min(libuvGate.threads, inputs.length) }, lane));
  return out;
}
