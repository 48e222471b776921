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

/**
 * The longest password, in the bytes of the encoding being tried, that any scheme is run on.
 * The hand-written schemes cost rounds × length (sha-crypt, phpass, md5-crypt), so without a
 * cap one request could buy seconds of a worker thread per try. Longer passwords never match:
 * 4096 is what Django and passlib allow, and above the idp's own form limit (1024 UTF-16 units,
 * at most 3072 UTF-8 bytes), so a password set in the idp always fits.
 */
export const MAX_PASSWORD_BYTES = 4096;

/**
 * How many slow-hash jobs may wait for a worker thread by default (PASSWORD_WORKER_QUEUE_MAX).
 * At the usual costs (sha-crypt's 5,000 rounds, phpass 2^8..2^15) a job takes 1-30 ms, so 128
 * waiting drain within the idp's 5 s wait for the adapter even on one thread; rows at the cost
 * limits take seconds each, and then it is the depth that stops the pile-up.
 */
export const DEFAULT_WORKER_QUEUE_DEPTH = 128;
