#!/usr/bin/env bash
# Runs the browser tests against the prebuilt target/debug/roster (or $ROSTER_BIN):
#   tests/e2e/run.sh [sqlite|postgres]
# postgres needs a server where databases may be created, in $E2E_DATABASE_URL or
# $PG_URL. SCREENSHOTS=1 rewrites docs/screenshots/; E2E_REQUIRE_ALL_SCREENS=1 fails on
# a missing screen instead of skipping it. Ends with a one-line summary.
set -euo pipefail
cd "$(dirname "$0")"
backend=${1:-sqlite}
case $backend in
  sqlite) unset E2E_DATABASE_URL ;;
  postgres)
    export E2E_DATABASE_URL=${E2E_DATABASE_URL:-${PG_URL:-}}
    [ -n "$E2E_DATABASE_URL" ] || { echo "postgres: set E2E_DATABASE_URL or PG_URL" >&2; exit 2; } ;;
  *) echo "usage: $0 [sqlite|postgres]" >&2; exit 2 ;;
esac
[ -d node_modules/playwright-core ] || { echo "run npm ci --prefix tests/e2e first" >&2; exit 2; }
[ -d ../../examples/oidc-app/node_modules/openid-client ] ||
  { echo "run npm ci --prefix examples/oidc-app first" >&2; exit 2; }

log=$(mktemp)
trap 'rm -f "$log"' EXIT
start=$(date +%s)
set +e
node --test --test-concurrency=1 --test-reporter=spec admin.test.mjs sso.test.mjs saml.test.mjs pull.test.mjs 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
# node's spec reporter closes with "ℹ pass N", "ℹ fail N", "ℹ skipped N".
count() { grep -E "^. $1 [0-9]+$" "$log" | tail -n 1 | grep -oE '[0-9]+$' || echo 0; }
echo "e2e $backend: $(count pass) passed, $(count fail) failed, $(count skipped) skipped in $(( $(date +%s) - start ))s"
exit "$status"
