// The hashes real PHP wrote for each legacy scheme (test/fixtures/legacy-hashes.json), for every
// test that needs a legacy row whose password is known.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from './processes.ts';

/** The demo password most vectors are made with. */
export const PASSWORD = 'correct horse battery staple';

export interface Vector {
  scheme: string;
  password: string;
  hash: string;
  salt: string | null;
}

export const vectors: Vector[] = JSON.parse(readFileSync(join(repoRoot, 'test/fixtures/legacy-hashes.json'), 'utf8'));

export function vector(scheme: string, password = PASSWORD): Vector {
  const found = vectors.find((v) => v.scheme === scheme && v.password === password);
  if (!found) throw new Error(`no fixture for ${scheme} / ${password}`);
  return found;
}

/** A phpass hash of PASSWORD, as the sample legacy PHP site wrote them (test/fixtures). */
export const LEGACY_PHPASS = '$P$BnKIIqConek1Kc2flv6caY7hm6Ud/J0';
