// Stands where the sample legacy PHP site would listen when `php` is absent, so every legacy
// page reached through the gateway says what is missing instead of a bare 502.
import { createServer, type Server } from 'node:http';
import { pageHeaders } from '../lib/page-headers.ts';

export const PHP_PACKAGES = 'php-cli php-sqlite3';

const page = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Legacy PHP site not running</title></head>
<body><h1>The sample legacy PHP site is not running</h1>
<p id="php-missing">It needs PHP: install <code>${PHP_PACKAGES}</code> (for example <code>apt-get install ${PHP_PACKAGES}</code>) and run <code>npm start</code> again.</p>
<p>Signing in through the new stack works without it: the demo users were seeded from hashes PHP made.</p>
</body></html>
`;

export function startPhpMissingPage(port: number, host = '127.0.0.1'): Promise<Server> {
  const server = createServer((req, res) => {
    req.resume();
    res.writeHead(503, pageHeaders());
    res.end(page);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve(server));
  });
}
