import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { createSealer } from './sealed.ts';

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

/** The gw_bucket cookie's raw value, when the request's Cookie header carries one. */
function bucketCookieValue(header: string | undefined): string | undefined {
  if (!header) return undefined;
  let from = 0;
  while (from < header.length) {
    const at = header.indexOf(BUCKET_COOKIE + '=', from);
    if (at === -1) return undefined;
    const boundary = at === 0 || header[at - 1] === ' ' || header[at - 1] === ';';
    const end = header.indexOf(';', at);
    if (boundary) return header.slice(at + BUCKET_COOKIE.length + 1, end === -1 ? undefined : end).trim();
    from = at + 1;
  }
  return undefined;
}

export interface BucketCookies {
  /** The bucket id of a gw_bucket cookie this gateway signed; undefined for none, a bad or an unsigned one. */
  read(header: string | undefined): string | undefined;
  /** A new random id, and the Set-Cookie that carries it signed. */
  issue(secure: boolean): { id: string; setCookie: string };
  /** The cookie value that carries `id`: the id and its MAC. */
  value(id: string): string;
}

/**
 * The gw_bucket cookie, signed: `<id>.<HMAC of the id>` under a key derived from `secret` for
 * this one purpose. Unsigned, a client could write the id of a bucket on the side it wants and
 * choose its side of every canary; now the gateway only believes ids it handed out, and a
 * cookie it cannot verify is treated as none (a fresh bucket). Any replica verifies what
 * another signed. Not secret: the id only picks a bucket.
 */
export function createBucketCookies(secret: string): BucketCookies {
  const { mac } = createSealer(secret, 'gateway canary bucket');
  const signature = (id: string) => mac(`bucket:${id}`);
  const value = (id: string) => `${id}.${signature(id)}`;
  return {
    read(header) {
      const cookie = bucketCookieValue(header);
      const dot = cookie?.indexOf('.') ?? -1;
      if (cookie === undefined || dot === -1) return undefined;
      const id = cookie.slice(0, dot);
      if (!wellFormed.test(id)) return undefined;
      const given = Buffer.from(cookie.slice(dot + 1));
      const expected = Buffer.from(signature(id));
      // Lengths are public (a MAC's is fixed); the bytes are compared in constant time.
      return given.length === expected.length && timingSafeEqual(given, expected) ? id : undefined;
    },
    issue(secure) {
      const id = randomBytes(16).toString('base64url');
      return { id, setCookie: `${BUCKET_COOKIE}=${value(id)}; Path=/; Max-Age=${BUCKET_COOKIE_MAX_AGE}; HttpOnly; SameSite=Lax${secure ? '; Secure' : ''}` };
    },
    value,
  };
}
