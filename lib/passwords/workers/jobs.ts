import { md5Crypt } from '../algorithms/md5-crypt.ts';
import { phpassCrypt } from '../algorithms/phpass.ts';
import { shaCrypt } from '../algorithms/sha-crypt.ts';

/**
 * The hand-written slow algorithms, by the name a job carries across the thread boundary. Each
 * takes the password bytes and the stored setting and returns the crypt()-style string.
 */
export const ALGORITHMS = {
  'md5-crypt': md5Crypt,
  'sha-crypt': shaCrypt,
  phpass: phpassCrypt,
} satisfies Record<string, (password: Uint8Array, setting: string) => string>;

export type AlgorithmName = keyof typeof ALGORITHMS;

export interface Job {
  algorithm: AlgorithmName;
  password: Uint8Array;
  setting: string;
}

export function runJob(job: Job): string {
  const fn = ALGORITHMS[job.algorithm];
  if (typeof fn !== 'function') throw new RangeError(`unknown algorithm ${String(job.algorithm)}`);
  return fn(job.password, job.setting);
}
