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
  /**
   * For the cheap schemes wrapped in PBKDF2: how much of a stored hash is its setting (salt and
   * cost), which compute() accepts in place of the whole hash, and the shape of that setting.
   */
  wrap?: { settingLength(hash: string): number; settingShape: RegExp };
}

/**
 * Schemes verified the way PHP code does it, hash_equals($stored, crypt($password, $stored)):
 * recompute the whole string from the stored setting and compare it in constant time.
 */
export function cryptLikeScheme(definition: CryptLikeDefinition): PasswordScheme {
  const { name, wrap } = definition;
  const check = (hash: string, limits: CostLimits | undefined): void => definition.check?.(hash, limits ?? DEFAULT_COST_LIMITS);
  return {
    name,
    kind: 'self-describing',
    salted: false,
    identify: definition.identify,
    async verify(password, hash, context = {}) {
      if (!definition.shape.test(hash)) {
        throw new UnverifiableHashError('malformed', name, 'does not have the shape this scheme produces');
      }
      check(hash, context.limits);
      return constantTimeEqualStrings(await definition.compute(password, hash), hash);
    },
    ...(wrap && {
      wrapping: {
        settingOf: (hash) => (definition.shape.test(hash) ? hash.slice(0, wrap.settingLength(hash)) : null),
        validSetting: (setting) => wrap.settingShape.test(setting),
        canonical: (hash) => hash,
        compute(password, setting, context) {
          check(setting, context.limits);
          return definition.compute(password, setting);
        },
      },
    }),
  };
}
