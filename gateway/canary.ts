import { createHash, randomBytes } from 'node:crypto';

/** Long-lived cookie that keeps an anonymous browser on the same side of every canary. */
export const BUCKET_COOKIE = 'gw_bucket';
const BUCKET_COOKIE_MAX_AGE = 400 * 24 * 3600; // the longest browsers keep a cookie
const wellFormed = /^[A-Za-z0-9_-]{16,64}$/;
const BUCKETS = 10_000;

/**
 * A stable bucket in 0..9999 for a stickiness key. The same key lands in the same bucket on
 * every replica and every version, and a route at N% sends buckets below N*100 to the new side,
 * so raising N only ever moves users from legacy to new.
 */
export function bucketOf(key: string): number {
  return createHash('sha256').update(key).digest().readUInt32BE(0) % BUCKETS;
}

/** The stickiness key of a signed-in user: kept apart from cookie ids, which are random anyway. */
export function subjectKey(sub: string): string {
  return `sub:${sub}`;
}

export function goesToNewSide(bucket: number, percent: number): boolean {
  return bucket < percent * 100;
}

/** The gw_bucket cookie's value, when the request's Cookie header carries a well-formed one. */
export function bucketCookie(header: string | undefined): string | undefined {
  if (!header) return undefined;
  let from = 0;
  while (from < header.length) {
    const at = header.indexOf(BUCKET_COOKIE + '=', from);
    if (at === -1) return undefined;
    const boundary = at === 0 || header[at - 1] === ' ' || header[at - 1] === ';';
    const end = header.indexOf(';', at);
    if (boundary) {
      const value = header.slice(at + BUCKET_COOKIE.length + 1, end === -1 ? undefined : end).trim();
      return wellFormed.test(value) ? value : undefined;
    }
    from = at + 1;
  }
  return undefined;
}

export function newBucketId(): string {
  return randomBytes(16).toString('base64url');
}

export function bucketSetCookie(id: string, secure: boolean): string {
  return `${BUCKET_COOKIE}=${id}; Path=/; Max-Age=${BUCKET_COOKIE_MAX_AGE}; HttpOnly; SameSite=Lax${secure ? '; Secure' : ''}`;
}
