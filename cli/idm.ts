#!/usr/bin/env node
// `idm`: the operator's one command. Each subcommand is the service's own CLI module (it reads
// that service's configuration, exactly as the running service does), loaded only when asked for,
// so `idm routes` never loads a database driver and `idm --help` loads nothing. This file sits
// above the services: they import nothing from cli/, and none of them imports another.
//
// Exit codes, the same for every subcommand (docs/cli.md): 0 done; 1 failed, refused or not
// ready (the reason on stderr); 2 usage error; 78 bad configuration (the environment or a
// mapping file), as the services; `migrate users` adds 3 (done, rows dead-lettered); the long
// runs exit 130/143 when a signal stopped them after the batch in flight.

/** A subcommand: its module's main(argv) returns the exit code. */
interface Command {
  summary: string;
  load: () => Promise<{ main: (argv: string[]) => Promise<number> }>;
}

export const EXIT = { ok: 0, failed: 1, usage: 2, config: 78 } as const;

// The literal import() paths let tsc rewrite them for dist/ (.ts -> .js).
export const commands: Record<string, Command> = {
  routes: { summary: "list, flip and audit the gateway's routes (its admin API)", load: () => import('../gateway/cli/routes.ts') },
  keys: { summary: "the idp's signing keys: list, ensure, add-next, promote, retire, reencrypt", load: () => import('../idp/cli/keys.ts') },
  clients: { summary: 'client secrets for the clients file: new-secret, rehash', load: () => import('../idp/cli/clients.ts') },
  sessions: { summary: 'sign an account out everywhere (the idp admin endpoint)', load: () => import('../idp/cli/sessions.ts') },
  'migrate users': { summary: "copy every legacy user into the idp's store (resumable)", load: () => import('../legacy-adapter/cli/migrate.ts') },
  'migrate db': { summary: "apply the idp's pending database migrations", load: () => import('../idp/store/migrate-cli.ts') },
  'wrap-hashes': { summary: 'wrap cheap legacy hashes copied before in PBKDF2 (resumable)', load: () => import('../idp/cli/wrap-hashes.ts') },
  verify: { summary: 'check legacy password hashes in bulk (JSON lines on stdin and stdout)', load: () => import('../legacy-adapter/cli/verify.ts') },
  'check-mapping': {
    summary: 'migration readiness of the legacy table through the schema mapping',
    load: () => import('../legacy-adapter/cli/check-mapping.ts'),
  },
};

export const USAGE = `usage: idm <command> [arguments]      (from the sources: npm run idm -- <command> ...)

${Object.entries(commands)
  .map(([name, c]) => `  ${name.padEnd(15)} ${c.summary}`)
  .join('\n')}

idm <command> --help describes a command. Exit codes: 0 done; 1 failed, refused or not ready;
2 usage error; 78 bad configuration. docs/cli.md has the details.`;

/** The command `argv` names (one word, or two for migrate) and the arguments left for it. */
export function resolveCommand(argv: readonly string[]): { name: string; command: Command; rest: string[] } | undefined {
  const [first, second] = argv;
  if (first === undefined) return undefined;
  const two = `${first} ${second ?? ''}`;
  if (commands[two]) return { name: two, command: commands[two], rest: argv.slice(2) };
  if (commands[first] && first !== 'migrate') return { name: first, command: commands[first], rest: argv.slice(1) };
  return undefined;
}

export async function main(argv: string[]): Promise<number> {
  const [first] = argv;
  if (first === undefined || first === '--help' || first === '-h' || first === 'help') {
    (first === undefined ? console.error : console.log)(USAGE);
    return first === undefined ? EXIT.usage : EXIT.ok;
  }
  const resolved = resolveCommand(argv);
  if (!resolved) {
    console.error(
      first === 'migrate' ? `idm migrate: say what to migrate: users or db\n\n${USAGE}` : `idm: unknown command ${JSON.stringify(first)}\n\n${USAGE}`,
    );
    return EXIT.usage;
  }
  const module = await resolved.command.load();
  return module.main(resolved.rest);
}

if (import.meta.main) process.exitCode = await main(process.argv.slice(2));
