/**
 * Bulk check of legacy password hashes for ops, e.g. to measure how many rows the registry can
 * verify before a route is flipped:
 *
 *   idm verify < accounts.jsonl
 *
 * Each input line is {"hash","password","salt"?,"scheme"?,"encoding"?}; `scheme` names the bare
 * hex digest scheme for hashes without a prefix, `encoding` is "utf8", "latin1" or a list of
 * them. Each output line, in input order, is {"ok","scheme","needsRehash"} plus "reason" when
 * ok is false, or {"ok":false,"scheme":null,"needsRehash":false,"error"} for a line that could
 * not be read. Passwords are never printed. Exit code 0 unless stdin cannot be read (2).
 */
import { fstatSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { createInterface } from 'node:readline';
import { readCommandArgs } from '../../lib/cli/args.ts';
import { BARE_HEX_SCHEMES, closePasswordWorkers, getScheme, verifyPassword, type PasswordEncoding, type VerifyOptions } from '../../lib/passwords/index.ts';

interface Verdict {
  ok: boolean;
  scheme: string | null;
  needsRehash: boolean;
  reason?: string;
  error?: string;
}

interface Request {
  password: string;
  hash: string | null;
  salt: string | null;
  options: VerifyOptions;
}

const ENCODINGS: readonly string[] = ['utf8', 'latin1'];

const isEncoding = (value: unknown): value is PasswordEncoding => typeof value === 'string' && ENCODINGS.includes(value);

// Messages are written here rather than taken from JSON.parse or the verifier, because those
// may quote the input, and the input holds a password.
function parse(line: string): Request | string {
  let input: unknown;
  try {
    input = JSON.parse(line);
  } catch {
    return 'line is not valid JSON';
  }
  if (typeof input !== 'object' || input === null || Array.isArray(input)) return 'line is not a JSON object';
  const { password, hash, salt = null, scheme, encoding } = input as Record<string, unknown>;
  if (typeof password !== 'string') return '"password" must be a string';
  if (typeof hash !== 'string' && hash !== null) return '"hash" must be a string or null';
  if (typeof salt !== 'string' && salt !== null) return '"salt" must be a string or null';
  const options: VerifyOptions = {};
  if (scheme !== undefined && scheme !== null) {
    if (typeof scheme !== 'string' || !getScheme(scheme)) return '"scheme" is not a known scheme name';
    // A self-describing hash names its own scheme; only bare hex needs the hint.
    if (BARE_HEX_SCHEMES.includes(scheme)) options.candidates = [scheme];
  }
  if (encoding !== undefined && encoding !== null) {
    const list = Array.isArray(encoding) ? encoding : [encoding];
    if (list.length === 0 || !list.every(isEncoding)) return `"encoding" must be ${ENCODINGS.join(' or ')}, or a list of them`;
    options.encodings = list;
  }
  return { password, hash, salt, options };
}

async function verdictFor(line: string): Promise<Verdict> {
  const request = parse(line);
  if (typeof request === 'string') return { ok: false, scheme: null, needsRehash: false, error: request };
  try {
    const { ok, scheme, needsRehash, reason } = await verifyPassword(request.password, request, request.options);
    return ok ? { ok, scheme, needsRehash } : { ok, scheme, needsRehash, reason };
  } catch (error) {
    const what = error instanceof Error ? error.name : 'error';
    return { ok: false, scheme: null, needsRehash: false, error: `verification failed (${what})` };
  }
}

async function write(text: string): Promise<void> {
  if (!process.stdout.write(text)) await new Promise((resolve) => process.stdout.once('drain', resolve));
}

/** Node reads a closed stdin or a directory as empty input; ops should hear about it instead. */
function stdinProblem(): string | null {
  try {
    return fstatSync(0).isDirectory() ? 'stdin is a directory' : null;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
}

const USAGE = `usage: idm verify < accounts.jsonl
Each input line: {"hash","password","salt"?,"scheme"?,"encoding"?}; each output line, in input
order: {"ok","scheme","needsRehash"} plus "reason" (or "error" for a line that could not be read).
Passwords are never printed.`;

export async function main(argv: string[]): Promise<number> {
  const parsed = readCommandArgs(argv, { name: 'verify', usage: USAGE, options: {} });
  if (!parsed.ok) return parsed.exit;
  const problem = stdinProblem();
  if (problem) {
    console.error(`verify: cannot read stdin: ${problem}`);
    return 2;
  }
  let unreadable = false;
  const lines = createInterface({ input: process.stdin, crlfDelay: Infinity });
  process.stdin.on('error', (error) => {
    unreadable = true;
    console.error(`verify: cannot read stdin: ${error.message}`);
    lines.close();
  });
  // Several lines are verified at once (the slow ones run on other threads) while the output
  // keeps input order, so line N of the output always answers line N of the input.
  const window = Math.max(2, availableParallelism());
  const pending: Promise<Verdict>[] = [];
  for await (const line of lines) {
    pending.push(verdictFor(line));
    if (pending.length >= window) await write(`${JSON.stringify(await pending.shift())}\n`);
  }
  for (const verdict of pending) await write(`${JSON.stringify(await verdict)}\n`);
  await closePasswordWorkers();
  return unreadable ? 2 : 0;
}

if (import.meta.main) process.exitCode = await main(process.argv.slice(2));
