// Every idm subcommand reads its words the same way, so that a typo gets the same answer
// everywhere (docs/cli.md): why the words are wrong and the usage on stderr, exit 2; -h or
// --help prints the usage on stdout, exit 0.
import { parseArgs, type ParseArgsOptionsConfig } from 'node:util';

/** Words a command cannot run with; thrown by a command's own checks to be answered like a parse error. */
export class UsageError extends Error {
  override name = 'UsageError';
}

const HELP = { help: { type: 'boolean', short: 'h', default: false } } as const;

interface CommandSpec<O extends ParseArgsOptionsConfig> {
  /** The subcommand's name, prefixed to every usage error. */
  name: string;
  usage: string;
  options: O;
  /** Whether bare words (a sub-subcommand, a key id) are allowed. */
  positionals?: boolean;
}

/** What parseArgs gives for a command's options (plus --help), for a `check` written apart. */
export type ParsedCommandArgs<O extends ParseArgsOptionsConfig> = ReturnType<
  typeof parseArgs<{ args: string[]; options: O & typeof HELP; allowPositionals: boolean; strict: true }>
>;

export type CommandArgs<A> = { ok: true; args: A } | { ok: false; exit: number };

/**
 * Parses argv with the command's options plus -h/--help, then runs `check` (which may throw
 * UsageError) to turn the words into the command's arguments. A result that is not ok has
 * already been reported and carries the exit code to return.
 */
export function readCommandArgs<O extends ParseArgsOptionsConfig, A = ParsedCommandArgs<O>>(
  argv: string[],
  spec: CommandSpec<O>,
  check: (parsed: ParsedCommandArgs<O>) => A = (parsed) => parsed as A,
): CommandArgs<A> {
  let parsed: ParsedCommandArgs<O>;
  try {
    parsed = parseArgs({
      args: argv,
      options: { ...spec.options, ...HELP },
      allowPositionals: spec.positionals ?? false,
      strict: true,
    }) as ParsedCommandArgs<O>;
  } catch (error) {
    return usageError(spec, (error as Error).message);
  }
  if ((parsed.values as { help?: boolean }).help) {
    console.log(spec.usage);
    return { ok: false, exit: 0 };
  }
  try {
    return { ok: true, args: check(parsed) };
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    return usageError(spec, error.message);
  }
}

function usageError(spec: { name: string; usage: string }, message: string): CommandArgs<never> {
  console.error(`${spec.name}: ${message}\n${spec.usage}`);
  return { ok: false, exit: 2 };
}

/** An optional `--name n` option that must be a whole number from 1 to max. */
export function positiveInteger(name: string, value: string | undefined, max = Number.MAX_SAFE_INTEGER): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value) || Number(value) < 1 || Number(value) > max)
    throw new UsageError(`--${name} must be an integer from 1 to ${max} (got ${JSON.stringify(value)})`);
  return Number(value);
}
