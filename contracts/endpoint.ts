// What every internal API contract declares of an endpoint, and the small helpers both sides use
// to follow it.
import type { z } from 'zod';

export interface Endpoint {
  method: 'GET' | 'POST' | 'DELETE';
  /** The full path; `:name` marks a path parameter. */
  path: string;
  request?: z.ZodType;
  answer?: z.ZodType;
  /** The error codes (contracts/internal-error.ts bodies) this endpoint answers besides the common ones. */
  errors: readonly string[];
}

/** The endpoint's path as a router mounted at `mount` sees it (express strips the mount). */
export function pathUnder(mount: string, path: string): string {
  if (path === mount) return '/';
  if (!path.startsWith(`${mount}/`)) throw new Error(`${path} is not under ${mount}`);
  return path.slice(mount.length);
}

/** The path with its `:name` parameters filled in, each URL-encoded. */
export function fillPath(path: string, params: Record<string, string>): string {
  return path.replace(/:([A-Za-z]+)/g, (_m, name: string) => {
    const value = params[name];
    if (value === undefined) throw new Error(`no value for :${name} in ${path}`);
    return encodeURIComponent(value);
  });
}
