#!/bin/sh
# Runs node with the project's runtime, so `npm start` and `npm test` work on a machine
# that only has an older Node (oidc-provider 9 needs >= 22.12): it installs Node 24 from
# the npm registry when needed. No native addon needs rebuilding: better-sqlite3 13 is
# N-API, prebuilt inside its package.
set -eu

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

exec "$NODE" "$@"
