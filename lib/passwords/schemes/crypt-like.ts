import { constantTimeEqualStrings } from '../bytes.ts';
import { UnverifiableHashError } from '../errors.ts';
import { DEFAULT_COST_LIMITS } from '../limits.ts';
import type { CostLimits, PasswordScheme } from '../types.ts';

export interface CryptLikeDefinition {
  name: string;
  identify(hash: string): boolean;
  /** What this scheme's output looks like; anything else can never match, so it is malformed. */
  shape: RegExp;
  /** Throws UnverifiableHashError for settings PHP refuses or the limits forbid. */
  check?(hash: string, limits: CostLimits): void;
  /** Recomputes the full string the way PHP does from the stored setting. */
  compute(password: Uint8Array, hash: string): Promise<string> | string;
}

/**
 * Schemes verified the way PHP code does it, hash_equals($stored, crypt($password, $stored)):
 * recompute the whole string from the stored setting and compare it in constant time.
 */
export function cryptLikeScheme(definition: CryptLikeDefinition): PasswordScheme {
  const { name } = definition;
  return {
    name,
    kind: 'self-describing',
    salted: false,
    identify: definition.identify,
    async verify(password, hash, context = {}) {
      if (!definition.shape.test(hash)) {
        throw new UnverifiableHashError('malformed', name, 'does not have the shape this scheme produces');
      }
      definition.check?.(hash, context.limits ?? DEFAULT_COST_LIMITS);
      return constantTimeEqualStrings(await definition.compute(password, hash), hash);
    },
  };
}
