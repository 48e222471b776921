// The batch migration's side of the idp's bulk-import port (contracts/idp-import.ts): one POST
// per batch, with a timeout, retried when the idp is down, restarting or overloaded. A retry is
// safe: the idp's import is idempotent (a batch it already took changes nothing the second time).
//
// node:http with a keep-alive agent, not fetch: fetch loads undici, which alone added some 40 MB
// to the migrate process's peak RSS (past the 150 MB it is held to, docs/PERFORMANCE.md), and
// every batch of a pass goes to the same idp over the one connection the agent keeps.
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  IDP_IMPORT_USERS_METHOD,
  IDP_IMPORT_USERS_PATH,
  idpImportErrorSchema,
  importUsersAnswerSchema,
  type ImportUsersAnswer,
  type ImportUsersRequest,
} from '../../contracts/idp-import.ts';

export interface IdpImportClient {
  importUsers(request: ImportUsersRequest): Promise<ImportUsersAnswer>;
}

export interface IdpImportClientOptions {
  /** IDP_INTERNAL_URL: the idp's own listener, not the gateway. */
  baseUrl: string;
  /** IDP_INTERNAL_SECRET. */
  secret: string;
  /** Per attempt: a batch of thousands of users, wrapped in PBKDF2, takes seconds. */
  timeoutMs?: number;
  /** Attempts in all before the run fails (it resumes from its checkpoint when run again). */
  attempts?: number;
  /** First pause between attempts; doubled each time. */
  backoffMs?: number;
  log?: (message: string) => void;
}

/** The idp could not take a batch: the message says what to check, never a value of the batch. */
export class IdpImportFailure extends Error {
  override name = 'IdpImportFailure';
}

class Retryable extends Error {}

export function createIdpImportClient(options: IdpImportClientOptions): IdpImportClient {
  const url = new URL(IDP_IMPORT_USERS_PATH, options.baseUrl.endsWith('/') ? options.baseUrl : `${options.baseUrl}/`).toString();
  const timeoutMs = options.timeoutMs ?? 120_000;
  const attempts = options.attempts ?? 5;
  const backoffMs = options.backoffMs ?? 500;

  const https = url.startsWith('https:');
  const agent = https ? new HttpsAgent({ keepAlive: true }) : new HttpAgent({ keepAlive: true });
  const send = https ? httpsRequest : httpRequest;

  /** One POST: the answer's status and body, or the reason no answer came (a network error or the timeout). */
  function post(body: string): Promise<{ status: number; text: string }> {
    return new Promise((resolve, reject) => {
      const req = send(
        url,
        {
          method: IDP_IMPORT_USERS_METHOD,
          agent,
          headers: {
            authorization: `Bearer ${options.secret}`,
            'content-type': 'application/json',
            'content-length': Buffer.byteLength(body),
          },
          signal: AbortSignal.timeout(timeoutMs),
        },
        (res: IncomingMessage) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.once('error', reject);
          res.once('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
        },
      );
      req.once('error', reject);
      req.end(body);
    });
  }

  async function once(body: string): Promise<ImportUsersAnswer> {
    let res: { status: number; text: string };
    try {
      res = await post(body);
    } catch (error) {
      const e = error as Error & { code?: string; cause?: { name?: string } };
      const why = e.cause?.name === 'TimeoutError' || e.name === 'TimeoutError' ? `no answer within ${timeoutMs} ms` : (e.code ?? e.message);
      throw new Retryable(`the idp at ${options.baseUrl} did not answer (${why})`);
    }
    const { text } = res;
    if (res.status === 200) {
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch {
        throw new IdpImportFailure(`the idp at ${options.baseUrl} answered 200 with a body that is not JSON: is IDP_INTERNAL_URL the idp itself?`);
      }
      const answer = importUsersAnswerSchema.safeParse(json);
      if (!answer.success)
        throw new IdpImportFailure(`the idp at ${options.baseUrl} answered outside the contract (contracts/idp-import.ts): is it the same release?`);
      return answer.data;
    }
    const error = idpImportErrorSchema.safeParse(safeJson(text));
    const said = error.success ? `${error.data.error}${error.data.error_description ? `: ${error.data.error_description}` : ''}` : `HTTP ${res.status}`;
    if (res.status === 401)
      throw new IdpImportFailure(`the idp at ${options.baseUrl} refused IDP_INTERNAL_SECRET (${said}): give the migration the idp's secret`);
    if (res.status === 404)
      throw new IdpImportFailure(
        `the idp at ${options.baseUrl} has no ${IDP_IMPORT_USERS_PATH} (HTTP 404): an older idp release, or IDP_INTERNAL_URL points elsewhere`,
      );
    if (res.status >= 500 || res.status === 429) throw new Retryable(`the idp at ${options.baseUrl} answered ${res.status} (${said})`);
    throw new IdpImportFailure(`the idp at ${options.baseUrl} refused the batch (${said})`);
  }

  return {
    async importUsers(request) {
      const body = JSON.stringify(request);
      for (let attempt = 1; ; attempt++) {
        try {
          return await once(body);
        } catch (error) {
          if (!(error instanceof Retryable)) throw error;
          if (attempt >= attempts)
            throw new IdpImportFailure(`${error.message}; gave up after ${attempts} attempts. Is the idp running, and is IDP_INTERNAL_URL its address?`);
          const pause = backoffMs * 2 ** (attempt - 1);
          options.log?.(`${error.message}; trying again in ${pause} ms (attempt ${attempt + 1} of ${attempts})`);
          await sleep(pause);
        }
      }
    },
  };
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
