// `npm run docs:internal-api`: writes docs/internal-api.md from the contracts in contracts/, the
// zod schemas both sides of each internal API validate with, so the reference cannot say
// something the code does not do. test/foundation/internal-api-docs.test.ts fails when the
// committed file differs from what this writes.
//
//   npm run docs:internal-api             write the file
//   npm run docs:internal-api -- --check  exit 1 if it is out of date
import { readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import type { Endpoint } from '../contracts/endpoint.ts';
import { endSessionsEndpoint, IDP_INTERNAL_ERRORS, legacyIdentityEndpoint, loginCheckEndpoint } from '../contracts/idp-internal-api.ts';
import { IDP_IMPORT_USERS_METHOD, IDP_IMPORT_USERS_PATH, IdpImportError, importUsersAnswerSchema, importUsersRequestSchema } from '../contracts/idp-import.ts';
import { authenticateEndpoint, LEGACY_ADAPTER_ERRORS, lookupEndpoint, passwordWriteEndpoint, sessionResolveEndpoint } from '../contracts/legacy-adapter-api.ts';
import { LEGACY_SESSION_COOKIE_METHOD, LEGACY_SESSION_COOKIE_PATH, legacySessionCookieAnswer } from '../contracts/legacy-session-cookie.ts';
import { createSessionEndpoint, deleteSessionEndpoint, SESSION_BRIDGE_ERRORS, sessionCookieEndpoint } from '../contracts/session-bridge-api.ts';

const root = fileURLToPath(new URL('..', import.meta.url));
export const INTERNAL_API_DOC = 'docs/internal-api.md';

interface Api {
  title: string;
  contract: string;
  /** Who calls whom, with which bearer secret. */
  about: string;
  errors: Record<string, string>;
  endpoints: Record<string, Endpoint>;
}

export const apis: Api[] = [
  {
    title: 'legacy-adapter API (idp → legacy-adapter)',
    contract: 'contracts/legacy-adapter-api.ts',
    about:
      'The idp checks passwords against the legacy table, looks users up, writes changed passwords back (dual-write) and resolves PHP sessions. Bearer `LEGACY_ADAPTER_SECRET`.',
    errors: LEGACY_ADAPTER_ERRORS,
    endpoints: {
      authenticate: authenticateEndpoint,
      lookup: lookupEndpoint,
      'password write': passwordWriteEndpoint,
      'session resolve': sessionResolveEndpoint,
      'session cookie': { method: LEGACY_SESSION_COOKIE_METHOD, path: LEGACY_SESSION_COOKIE_PATH, answer: legacySessionCookieAnswer, errors: [] },
    },
  },
  {
    title: 'Session bridge (gateway → legacy-adapter)',
    contract: 'contracts/session-bridge-api.ts',
    about: 'After an OpenID Connect sign-in the gateway writes a PHP session for the user, and deletes it at logout. Bearer `LEGACY_SESSION_BRIDGE_SECRET`.',
    errors: SESSION_BRIDGE_ERRORS,
    endpoints: { 'create session': createSessionEndpoint, 'session cookie': sessionCookieEndpoint, 'delete session': deleteSessionEndpoint },
  },
  {
    title: 'idp internal API (gateway → idp, operators → idp)',
    contract: 'contracts/idp-internal-api.ts',
    about:
      'Shadow login checks and legacy identities for the gateway (bearer `IDP_INTERNAL_SECRET`); ending every session of an account for operators (bearer `IDP_ADMIN_TOKEN`).',
    errors: IDP_INTERNAL_ERRORS,
    endpoints: { 'login check': loginCheckEndpoint, 'legacy identity': legacyIdentityEndpoint, 'end sessions': endSessionsEndpoint },
  },
  {
    title: 'Bulk import (batch migration → idp)',
    contract: 'contracts/idp-import.ts',
    about: 'The batch migration hands the idp batches of legacy users; the idp decides and writes. Bearer `IDP_INTERNAL_SECRET`.',
    errors: IdpImportError,
    endpoints: {
      'import users': {
        method: IDP_IMPORT_USERS_METHOD,
        path: IDP_IMPORT_USERS_PATH,
        request: importUsersRequestSchema,
        answer: importUsersAnswerSchema,
        errors: [],
      },
    },
  },
];

type JsonSchema = Record<string, unknown>;

/** A JSON Schema in a TypeScript-like line a person reads at a glance: `{ login: string(1..320), password?: string }`. */
function shapeOf(schema: JsonSchema): string {
  const alternatives = (schema.oneOf ?? schema.anyOf) as JsonSchema[] | undefined;
  if (alternatives) return alternatives.map(shapeOf).join(' | ');
  if ('const' in schema) return JSON.stringify(schema.const);
  if (Array.isArray(schema.enum)) return schema.enum.map((v) => JSON.stringify(v)).join(' | ');
  const type = schema.type;
  if (Array.isArray(type)) return type.map((t) => shapeOf({ ...schema, type: t })).join(' | ');
  if (type === 'object') {
    const required = new Set((schema.required as string[] | undefined) ?? []);
    const properties = Object.entries((schema.properties as Record<string, JsonSchema> | undefined) ?? {});
    return `{ ${properties.map(([name, value]) => `${name}${required.has(name) ? '' : '?'}: ${shapeOf(value)}`).join(', ')} }`;
  }
  if (type === 'array') {
    const items = (schema.items as JsonSchema | undefined) ?? {};
    const union = Boolean(items.oneOf ?? items.anyOf) || Array.isArray(items.type) || (Array.isArray(items.enum) && items.enum.length > 1);
    return union ? `(${shapeOf(items)})[]` : `${shapeOf(items)}[]`;
  }
  if (type === 'string') {
    if (schema.format) return `string(${String(schema.format)})`;
    if (schema.pattern) return `string(/${String(schema.pattern)}/)`;
    const [min, max] = [schema.minLength, schema.maxLength];
    return min === undefined && max === undefined ? 'string' : `string(${min ?? 0}..${max ?? ''})`;
  }
  if (type === 'integer' || type === 'number' || type === 'boolean' || type === 'null') return String(type);
  return 'unknown';
}

function schemaLine(label: string, schema: z.ZodType | undefined): string[] {
  if (!schema) return [];
  // What goes over the wire: the input side (a field with a default may be left out).
  return [`${label}: \`${shapeOf(z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as JsonSchema)}\``, ''];
}

export function render(): string {
  const lines = [
    '# Internal APIs',
    '',
    '<!-- Generated by `npm run docs:internal-api` from contracts/; edit the contracts, not this file. -->',
    '',
    'The services call each other over HTTP with a bearer secret; each API has one contract in `contracts/`',
    '(zod request and answer schemas, error codes) that the server validates with and the client parses with.',
    'Every error answer is `{"error": "<code>", "error_description": "<text>"}`; result unions in code are tagged `ok`.',
    '',
  ];
  for (const api of apis) {
    const codes = Object.values(api.errors).map((code) => `\`${code}\``);
    lines.push(`## ${api.title}`, '', `Contract: \`${api.contract}\`. ${api.about}`, '', `Error codes: ${codes.join(', ')}.`, '');
    for (const [name, endpoint] of Object.entries(api.endpoints)) {
      lines.push(`### ${name}: \`${endpoint.method} ${endpoint.path}\``, '');
      if (endpoint.errors.length) lines.push(`Errors besides the common ones: ${endpoint.errors.map((e) => `\`${e}\``).join(', ')}.`, '');
      lines.push(...schemaLine('Request', endpoint.request), ...schemaLine('Answer', endpoint.answer));
    }
  }
  return `${lines.join('\n').trimEnd()}\n`;
}

if (import.meta.main) {
  const { values } = parseArgs({ options: { check: { type: 'boolean', default: false } } });
  const path = resolve(root, INTERNAL_API_DOC);
  const text = render();
  if (values.check) {
    let committed = '';
    try {
      committed = readFileSync(path, 'utf8');
    } catch {
      // A missing file is out of date too.
    }
    if (committed !== text) {
      console.error(`${INTERNAL_API_DOC} is out of date: run npm run docs:internal-api`);
      process.exit(1);
    }
  } else {
    writeFileSync(path, text);
    console.log(`wrote ${INTERNAL_API_DOC}`);
  }
}
