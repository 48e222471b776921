import { verify as argon2Verify } from '@node-rs/argon2';
import { PasswordWorkersBusyError, UnverifiableHashError } from '../errors.ts';
import { DEFAULT_COST_LIMITS } from '../limits.ts';
import type { PasswordScheme } from '../types.ts';
import { libuvGate } from '../workers/gate.ts';

// PHP's password_hash always writes v=19; libargon2 before 1.3 wrote no version at all.
const SHAPE = /^\$argon2(?:i|id)\$(?:v=(?:16|19)\$)?m=(\d{1,10}),t=(\d{1,10}),p=(\d{1,3})\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+$/;

function argon2Scheme(variant: 'argon2i' | 'argon2id'): PasswordScheme {
  const prefix = `$${variant}$`;
  return {
    name: variant,
    kind: 'self-describing',
    salted: false,
    identify: (hash) => hash.startsWith(prefix),
    async verify(password, hash, context = {}) {
      const match = SHAPE.exec(hash);
      if (!match || !hash.startsWith(prefix)) throw new UnverifiableHashError('malformed', variant, 'not a PHC argon2 string');
      const [memory, passes, lanes] = match.slice(1, 4).map(Number) as [number, number, number];
      const limits = context.limits ?? DEFAULT_COST_LIMITS;
      if (memory > limits.argon2MemoryKiB || passes > limits.argon2Passes || lanes > limits.argon2Parallelism) {
        throw new UnverifiableHashError(
          'cost-limit',
          variant,
          `m=${memory},t=${passes},p=${lanes} exceeds the limits m=${limits.argon2MemoryKiB},t=${limits.argon2Passes},p=${limits.argon2Parallelism}`,
        );
      }
      try {
        return await libuvGate.run(() => argon2Verify(hash, password));
      } catch (error) {
        if (error instanceof PasswordWorkersBusyError) throw error;
        throw new UnverifiableHashError('malformed', variant, 'rejected by the argon2 library');
      }
    },
  };
}

/** As PHP's password_hash() writes them with PASSWORD_ARGON2I / PASSWORD_ARGON2ID. */
export const argon2Schemes: readonly PasswordScheme[] = [argon2Scheme('argon2id'), argon2Scheme('argon2i')];
