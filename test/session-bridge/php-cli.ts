// A real PHP on the command line, for checking our PHP session bytes against what PHP itself reads
// and writes; the tests skip with `phpProblem` where there is no php.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

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

/** Runs `statements` inside a started file-backed session with the default `php` serialize_handler. */
export function runInPhpSession(statements: string[], ...args: string[]): Promise<string> {
  const script = [
    'ini_set("session.serialize_handler", "php");',
    'ini_set("session.save_handler", "files");',
    'ini_set("session.save_path", sys_get_temp_dir());',
    'session_start();',
    ...statements,
    'session_destroy();',
  ].join(' ');
  return runPhp(script, ...args);
}

/** Logins in several scripts and with PHP's separators in them, to catch byte-length and quoting slips. */
export const awkwardLogins = ['alice', 'Müller', 'José', '日本語ユーザー', 'emoji🙂user', 'quote"semi;colon|pipe', "Dave O'Brien <Ops & Infra>", ''];
