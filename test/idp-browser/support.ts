// What the browser tests need around Chromium: Debian's chromium (never a downloaded one), a
// throwaway TLS certificate for a non-localhost https origin on loopback, the single-page
// app's static server (the idp itself: startIdpProcess in test/support/idp.ts).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { extname, join } from 'node:path';
import type { TestContext } from 'node:test';
import { chromium, type Browser } from 'playwright-core';
import { skipLoudly } from '../../scripts/support/databases.ts';
import { repoRoot } from '../../scripts/support/processes.ts';

export const CHROMIUM_PATH = process.env.TEST_CHROMIUM ?? '/usr/bin/chromium';
export const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'];

/** Debian's chromium, or a loud skip when it is not installed. */
export async function launchChromium(t: TestContext, extraArgs: string[] = []): Promise<Browser | undefined> {
  if (!existsSync(CHROMIUM_PATH)) {
    skipLoudly(t, `chromium at ${CHROMIUM_PATH}`, 'not installed (apt-get install chromium)');
    return undefined;
  }
  return chromium.launch({ executablePath: CHROMIUM_PATH, args: [...CHROMIUM_ARGS, ...extraArgs] });
}

export const ARTIFACTS = join(repoRoot, 'test-artifacts', 'idp-browser');
export function artifact(name: string): string {
  mkdirSync(ARTIFACTS, { recursive: true });
  return join(ARTIFACTS, name);
}

/** A self-signed certificate for `name`, valid one day, made with openssl at test time. */
export function selfSignedCertificate(dir: string, name: string): { key: Buffer; cert: Buffer } {
  const key = join(dir, 'key.pem');
  const cert = join(dir, 'cert.pem');
  const made = spawnSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-keyout',
      key,
      '-out',
      cert,
      '-subj',
      `/CN=${name}`,
      '-addext',
      `subjectAltName=DNS:${name}`,
      '-days',
      '1',
    ],
    { encoding: 'utf8' },
  );
  if (made.status !== 0) throw new Error(`openssl failed: ${made.stderr}`);
  return { key: readFileSync(key), cert: readFileSync(cert) };
}

export interface SpaServer {
  port: number;
  origin: string;
  /** Set once the idp is up: served to the app as /config.json. */
  config: { issuer?: string; clientId?: string; redirectUri?: string; scope?: string };
  close(): Promise<void>;
}

const SPA_FILES: Record<string, string> = {
  '/': join(repoRoot, 'test/idp-browser/spa/index.html'),
  '/index.html': join(repoRoot, 'test/idp-browser/spa/index.html'),
  '/callback.html': join(repoRoot, 'test/idp-browser/spa/callback.html'),
  '/app.js': join(repoRoot, 'test/idp-browser/spa/app.js'),
  // The library is the app's own file, served as is: no bundler, no inline script.
  '/oidc-client-ts.min.js': join(repoRoot, 'node_modules/oidc-client-ts/dist/browser/oidc-client-ts.min.js'),
};
const TYPES: Record<string, string> = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8' };

/** The single-page app over https on loopback, reached by Chromium as https://<host>:<port>. */
export async function startSpaServer(host: string, tls: { key: Buffer; cert: Buffer }): Promise<SpaServer> {
  const config: SpaServer['config'] = {};
  const server = createHttpsServer(tls, (req, res) => {
    const path = new URL(req.url ?? '/', 'https://x').pathname;
    if (path === '/config.json') {
      res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end(JSON.stringify(config));
      return;
    }
    const file = SPA_FILES[path];
    if (!file) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, {
      'content-type': TYPES[extname(file)] ?? 'application/octet-stream',
      'cache-control': 'no-store',
      // The SPA holds itself to a script-free-inline CSP too: its own scripts, the idp for fetches.
      'content-security-policy': `default-src 'self'; script-src 'self'; connect-src 'self' ${config.issuer ?? ''}; base-uri 'none'; frame-ancestors 'none'`,
    });
    res.end(readFileSync(file));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    origin: `https://${host}:${port}`,
    config,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
