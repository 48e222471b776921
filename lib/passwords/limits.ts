import type { CostLimits } from './types.ts';

/**
 * Chosen so that one verification at the limit costs at most about a second or two of one
 * thread, while staying well above what PHP applications actually wrote (see README.md).
 */
export const DEFAULT_COST_LIMITS: Readonly<CostLimits> = Object.freeze({
  bcryptCost: 15,
  phpassLog2: 20,
  shaCryptRounds: 1_000_000,
  argon2MemoryKiB: 256 * 1024,
  argon2Passes: 10,
  argon2Parallelism: 16,
  pbkdf2Iterations: 5_000_000,
});
