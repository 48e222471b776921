// tsc emits only JavaScript; the services also read files that sit next to their code
// (route table, clients file, mappings, stylesheets, HTML). Copy those into dist/ so
// `node dist/<service>/main.js` finds them where the sources do.
import { cpSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const assets = /\.(ya?ml|json|css|html|svg|png|ico|txt)$/;
let copied = 0;

function walk(dir: string): void {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) walk(path);
    else if (assets.test(name)) {
      cpSync(path, join(root, 'dist', relative(root, path)));
      copied++;
    }
  }
}

for (const top of ['gateway', 'idp', 'legacy-adapter', 'lib']) walk(join(root, top));
console.log(`copied ${copied} asset files into dist/`);
