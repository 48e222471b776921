// One legacy row made into the user the idp imports (contracts/idp-import.ts), or the reason it
// cannot be: mapping, validation and scheme detection, all from the row alone. What the idp
// already holds (the never-downgrade rule, login keys taken) is the idp's to decide
// (idp/import/plan.ts).
import { z } from 'zod';
import type { ImportUser } from '../../contracts/idp-import.ts';
import { getScheme, identifyScheme } from '../../lib/passwords/index.ts';
import { verificationSalt, type LegacyRow } from '../directory/directory.ts';
import { legacyFingerprint } from '../directory/fingerprint.ts';
import type { LegacyMapping } from '../mapping-format/index.ts';
import type { DeadLetter } from './types.ts';

export interface PlanContext {
  mapping: LegacyMapping;
  fingerprintKey: string;
}

/** A row that passed validation: the idp user it should become. */
export interface PreparedRow {
  legacyId: string;
  user: ImportUser;
}

export type Prepared = { ok: true; row: PreparedRow } | { ok: false; deadLetter: DeadLetter };

// What a browser's <input type="email"> accepts, and no longer than the idp's column.
const emailPattern = z.regexes.html5Email;
const MAX_EMAIL_LENGTH = 254;

/**
 * The scheme the idp should record for a legacy hash: the one its prefix names, else the first
 * bare-hex candidate of the right length that the row can use (salted ones need a salt).
 */
function legacyScheme(hash: string, candidates: readonly string[], salt: string | null): string | null {
  const identified = identifyScheme(hash, candidates);
  if (identified === null || getScheme(identified)?.kind !== 'bare-hex' || salt !== null) return identified;
  return (
    candidates.find((name) => {
      const scheme = getScheme(name);
      return scheme !== undefined && !scheme.salted && scheme.identify(hash);
    }) ?? null
  );
}

/** Validates one legacy row against the mapping; never reads the idp. */
export function prepareRow(row: LegacyRow, context: PlanContext): Prepared {
  const { mapping, fingerprintKey } = context;
  const dead = (reason: DeadLetter['reason'], detail: string | null): Prepared => ({ ok: false, deadLetter: { legacyId: row.legacyId, reason, detail } });
  const username = row.username?.trim() || null;
  const email = row.email?.trim() || null;
  if (username === null && email === null) return dead('no_login', 'neither a username nor an e-mail');
  if (email !== null && (email.length > MAX_EMAIL_LENGTH || !emailPattern.test(email))) return dead('invalid_email', null);
  const hash = row.hash?.trim() || null;
  if (hash === null) return dead('unrecognised_hash', 'empty hash');
  const salt = verificationSalt(mapping, row);
  const candidates = mapping.passwords.hexCandidates;
  const scheme = legacyScheme(hash, candidates, salt);
  if (scheme === null)
    return dead(
      'unrecognised_hash',
      identifyScheme(hash, candidates) ? 'only salted schemes fit and the row has no salt' : `no scheme recognises it (length ${hash.length})`,
    );
  const bareHex = getScheme(scheme)?.kind === 'bare-hex';
  return {
    ok: true,
    row: {
      legacyId: row.legacyId,
      user: {
        legacyId: row.legacyId,
        username,
        email,
        name: row.name,
        active: row.active,
        passwordHash: hash,
        passwordSalt: salt,
        passwordScheme: scheme,
        passwordCandidates: bareHex ? [...candidates] : [],
        passwordEncodings: [...mapping.passwords.encodings],
        // Of the row as stored (not trimmed), exactly as the adapter fingerprints it at a JIT import.
        legacyFingerprint: legacyFingerprint(fingerprintKey, row.hash, row.salt),
      },
    },
  };
}
