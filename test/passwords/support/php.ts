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

// phpass's PasswordHash::crypt_private and encode64 as WordPress ships them, with Drupal 7's
// _password_crypt folded in ($S$: sha512, output cut to 55 characters), run by real PHP as an
// independent reference for the TypeScript port.
export const PHP_PHPASS = String.raw`
const ITOA64 = './0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
function encode64($input, $count) {
  $output = ''; $i = 0;
  do {
    $value = ord($input[$i++]);
    $output .= ITOA64[$value & 0x3f];
    if ($i < $count) $value |= ord($input[$i]) << 8;
    $output .= ITOA64[($value >> 6) & 0x3f];
    if ($i++ >= $count) break;
    if ($i < $count) $value |= ord($input[$i]) << 16;
    $output .= ITOA64[($value >> 12) & 0x3f];
    if ($i++ >= $count) break;
    $output .= ITOA64[($value >> 18) & 0x3f];
  } while ($i < $count);
  return $output;
}
function crypt_private($password, $setting) {
  $output = '*0';
  $id = substr($setting, 0, 3);
  if ($id !== '$P$' && $id !== '$H$' && $id !== '$S$') return $output;
  $count_log2 = strpos(ITOA64, $setting[3]);
  if ($count_log2 < 7 || $count_log2 > 30) return $output;
  $count = 1 << $count_log2;
  $salt = substr($setting, 4, 8);
  if (strlen($salt) !== 8) return $output;
  $algo = $id === '$S$' ? 'sha512' : 'md5';
  $hash = hash($algo, $salt . $password, true);
  do { $hash = hash($algo, $hash . $password, true); } while (--$count);
  $output = substr($setting, 0, 12) . encode64($hash, strlen($hash));
  return $id === '$S$' ? substr($output, 0, 55) : $output;
}
function gensalt($id, $log2) { return $id . ITOA64[$log2] . encode64(random_bytes(6), 6); }
`;
