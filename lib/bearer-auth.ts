import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

// Comparing HMACs of both sides makes the comparison constant-time whatever the lengths.
const comparisonKey = randomBytes(32);
const digest = (value: string) => createHmac('sha256', comparisonKey).update(value).digest();

export function secretsEqual(given: string, expected: string): boolean {
  return timingSafeEqual(digest(given), digest(expected));
}

/** The token of an `Authorization: Bearer <token>` header, or undefined. */
export function bearerToken(req: IncomingMessage): string | undefined {
  return bearerTokenOf(req.headers.authorization);
}

/** The same from the header's value (the gateway's hot path reads raw headers). */
// Without a regex over the whole value: an access token is a long header, read on every API request.
export function bearerTokenOf(header: string | undefined): string | undefined {
  if (header === undefined || header.length < 8 || !WHITESPACE.test(header[6]!) || header.slice(0, 6).toLowerCase() !== 'bearer') return undefined;
  const token = header.slice(7).trim();
  return token === '' || WHITESPACE.test(token) ? undefined : token;
}
const WHITESPACE = /\s/;

/** True when the request carries exactly `secret` as its bearer token. */
export function hasBearerSecret(req: IncomingMessage, secret: string): boolean {
  const token = bearerToken(req);
  return token !== undefined && secretsEqual(token, secret);
}
