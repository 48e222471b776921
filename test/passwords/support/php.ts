import { spawnSync } from 'node:child_process';
import type { TestContext } from 'node:test';

const probe = spawnSync('php', ['-r', 'echo PHP_VERSION;'], { encoding: 'utf8' });

/** The php-cli version, or null when it is not installed. */
export const phpVersion: string | null = probe.status === 0 ? probe.stdout.trim() : null;

/**
 * Skips the calling test when php-cli is missing, and says so on stderr: a silently skipped
 * agreement test would look like a passing one.
 */
export function needPhp(t: TestContext): boolean {
  if (phpVersion) return true;
  const reason = 'php-cli is not on PATH, so agreement with real PHP was NOT checked';
  console.warn(`WARNING: ${t.name}: ${reason}`);
  t.skip(reason);
  return false;
}

/**
 * Runs a PHP snippet that finds the decoded JSON input in $in and echoes JSON. Passwords are
 * passed as base64 (decode with base64_decode) so PHP sees exactly the bytes we mean.
 */
export function php<T>(code: string, input: unknown = null): T {
  const script = `$in = json_decode(stream_get_contents(STDIN), true);\n${code}`;
  const result = spawnSync('php', ['-d', 'display_errors=stderr', '-r', script], {
    input: JSON.stringify(input),
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  if (result.status !== 0) throw new Error(`php exited with ${result.status}: ${result.stderr}`);
  return JSON.parse(result.stdout) as T;
}

export const b64 = (bytes: Uint8Array | string): string => Buffer.from(bytes).toString('base64');
