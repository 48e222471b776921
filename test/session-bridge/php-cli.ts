// A real PHP on the command line, for checking our PHP session bytes against what PHP itself reads
// and writes; the tests skip with `phpProblem` where there is no php.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { SerializeHandler } from '../../legacy-adapter/sessions/php-serialize.ts';
import { sessionSchema } from '../../legacy-adapter/mapping-format/session-schema.ts';
import type { SessionFormat } from '../../legacy-adapter/sessions/php-session.ts';

const run = promisify(execFile);
const php = process.env.PHP_BINARY ?? 'php';

/** Why PHP cannot run here, or undefined when it can. */
export const phpProblem = await run(php, ['-r', 'echo 1;']).then(
  () => undefined,
  (error: Error) => `php is not available (${error.message})`,
);

/** Runs `php -r script args…` and returns what it printed. */
export async function runPhp(script: string, ...args: string[]): Promise<string> {
  return (await run(php, ['-r', script, ...args])).stdout;
}

/** Runs `statements` inside a started file-backed session with `handler` as session.serialize_handler. */
export function runInPhpSession(statements: string[], handler: SerializeHandler, ...args: string[]): Promise<string> {
  const script = [
    `ini_set("session.serialize_handler", "${handler}");`,
    'ini_set("session.save_handler", "files");',
    'ini_set("session.save_path", sys_get_temp_dir());',
    'session_start();',
    ...statements,
    'session_destroy();',
  ].join(' ');
  return runPhp(script, ...args);
}

/** $_SESSION = <php expression>; session_encode() in a real PHP under `handler`. */
export async function phpEncode(expression: string, handler: SerializeHandler): Promise<Buffer> {
  const stdout = await runInPhpSession([`$_SESSION = ${expression};`, 'echo base64_encode(session_encode());'], handler);
  return Buffer.from(stdout, 'base64');
}

/** session_decode() of `data` in a real PHP under `handler`: whether it worked, $_SESSION and its types. */
export async function phpDecode(
  data: Buffer,
  handler: SerializeHandler,
): Promise<{ ok: boolean; session: Record<string, unknown>; types: Record<string, string> }> {
  const stdout = await runInPhpSession(
    [
      '$ok = session_decode(base64_decode($argv[1]));',
      'echo json_encode(array("ok" => $ok, "session" => (object) $_SESSION, "types" => (object) array_map("gettype", $_SESSION)), JSON_UNESCAPED_UNICODE);',
    ],
    handler,
    data.toString('base64'),
  );
  return JSON.parse(stdout) as { ok: boolean; session: Record<string, unknown>; types: Record<string, string> };
}

/** A mapping's `session` section under `handler`: by default the sample monolith's keys (legacy-php login_user()). */
export const sessionFormat = (handler: SerializeHandler): SessionFormat => sessionSchema.parse({ serialize_handler: handler });

/** A PHP string literal for any text (base64, so no quoting slip can change it). */
export const phpString = (text: string) => `base64_decode("${Buffer.from(text).toString('base64')}")`;

/** Logins in several scripts and with PHP's separators in them, to catch byte-length and quoting slips. */
export const awkwardLogins = ['alice', 'Müller', 'José', '日本語ユーザー', 'emoji🙂user', 'quote"semi;colon|pipe', "Dave O'Brien <Ops & Infra>", ''];
