import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Logger } from './logger.ts';

export const REQUEST_ID_HEADER = 'x-request-id';
const acceptable = /^[A-Za-z0-9._:-]{1,128}$/;

export interface RequestContext {
  requestId: string;
  log: Logger;
}

const storage = new AsyncLocalStorage<RequestContext>();

/** Keeps a well-formed incoming request id (so a login can be followed across services) or makes one. */
export function requestIdOf(req: IncomingMessage): string {
  return requestIdFrom(req.headers[REQUEST_ID_HEADER]);
}

/** The same rule for a header value already at hand (the gateway's proxy path reads raw headers). */
export function requestIdFrom(given: string | string[] | undefined): string {
  return typeof given === 'string' && acceptable.test(given) ? given : randomUUID();
}

export function runInRequestContext<T>(context: RequestContext, fn: () => T): T {
  return storage.run(context, fn);
}

/** The current request's context, when there is one (calls made outside a request have none). */
export function currentRequest(): RequestContext | undefined {
  return storage.getStore();
}

/** The current request's logger, or `fallback` outside a request. */
export function currentLogger(fallback: Logger): Logger {
  return storage.getStore()?.log ?? fallback;
}

/** Headers to pass the current request id on to another service. */
export function propagationHeaders(): Record<string, string> {
  const ctx = storage.getStore();
  return ctx ? { [REQUEST_ID_HEADER]: ctx.requestId } : {};
}
