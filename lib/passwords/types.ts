/** How a password string was turned into bytes before the legacy code hashed it. */
export type PasswordEncoding = 'utf8' | 'latin1';

/**
 * Ceilings on the work factors read from stored hashes. A hash asking for more is refused as
 * unverifiable, because its cost comes from the database and one hostile or corrupt row must
 * not be able to tie up a server thread for minutes.
 */
export interface CostLimits {
  /** bcrypt log2 cost ($2a$/$2b$/$2y$). */
  bcryptCost: number;
  /** log2 iteration count of phpass ($P$, $H$) and Drupal 7 ($S$). */
  phpassLog2: number;
  /** rounds= of sha256-crypt and sha512-crypt. */
  shaCryptRounds: number;
  /** argon2 m= in KiB. */
  argon2MemoryKiB: number;
  /** argon2 t= (passes). */
  argon2Passes: number;
  /** argon2 p= (lanes). */
  argon2Parallelism: number;
  /** PBKDF2 i=. */
  pbkdf2Iterations: number;
}

export interface SchemeVerifyContext {
  /** Salt column value, already encoded the same way as the password (bare hex schemes only). */
  salt?: Uint8Array | null;
  limits?: CostLimits;
}

export interface PasswordScheme {
  readonly name: string;
  /**
   * 'self-describing' hashes carry their algorithm and parameters; 'bare-hex' digests do not,
   * so they are only tried when the legacy schema mapping names them as candidates.
   */
  readonly kind: 'self-describing' | 'bare-hex';
  /** Whether the scheme reads the separate salt column. */
  readonly salted: boolean;
  /** Recognises the hash by prefix (self-describing) or by digest length (bare hex). */
  identify(hash: string): boolean;
  /**
   * Resolves true when the password bytes reproduce the hash. Throws UnverifiableHashError when
   * the hash is malformed or asks for more work than the limits allow.
   */
  verify(password: Uint8Array, hash: string, context?: SchemeVerifyContext): Promise<boolean>;
  /** Set on the cheap legacy schemes whose hashes are wrapped in PBKDF2 (schemes/wrapped.ts). */
  readonly wrapping?: LegacyWrapping;
}

/**
 * What a cheap legacy scheme lends the wrapped scheme: the part of a stored hash needed to
 * recompute it from a password (its salt and cost, never its digest), and that recomputation.
 */
export interface LegacyWrapping {
  /** The setting of a stored hash of this scheme; null when the hash does not have its shape. */
  settingOf(hash: string): string | null;
  /** Whether a setting read back from a wrapped string is one settingOf can have written. */
  validSetting(setting: string): boolean;
  /** The stored hash spelled exactly as compute returns it (hex digests in lowercase). */
  canonical(hash: string): string;
  /** The legacy function's output for the password under `setting`; throws UnverifiableHashError past the limits. */
  compute(password: Uint8Array, setting: string, context: SchemeVerifyContext): Promise<string> | string;
}

/** PBKDF2-HMAC-SHA256 parameters for new hashes, and the bar below which old ones are rehashed. */
export interface Pbkdf2Policy {
  iterations: number;
  /** Derived key length in bytes. */
  keyLength: number;
  /** Random salt length in bytes. */
  saltLength: number;
}

/** The scheme new hashes are written in. */
export interface HashingScheme extends PasswordScheme {
  hash(password: string, policy?: Pbkdf2Policy): Promise<string>;
}
