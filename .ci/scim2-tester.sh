#!/usr/bin/env bash
# Runs the external checker scim2-tester (PyPI) against roster on SQLite and on the
# PostgreSQL server given as $1; fails if any check fails on either backend.
set -euo pipefail
cd "$(dirname "$0")/.."
PG_ADMIN=$1
VENV=${SCIM2_TESTER_VENV:-target/scim2-venv}

if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
fi
"$VENV/bin/pip" install -q --disable-pip-version-check -r .ci/requirements-scim2.txt

cargo build -q --bin roster
ROSTER=target/debug/roster
WORK=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$WORK"' EXIT

db=roster_scim2_tester
psql "$PG_ADMIN" -q -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db" 2>/dev/null

# PostgreSQL needs a configured secrets key (SQLite would make its own file).
ROSTER_SECRETS_KEY=$(head -c 32 /dev/urandom | base64)
export ROSTER_SECRETS_KEY

status=0
for url in "sqlite://$WORK/roster.db" "${PG_ADMIN%/*}/$db"; do
  backend=${url%%:*}
  export ROSTER_DATABASE_URL=$url
  $ROSTER tenant create conformance >/dev/null
  token=$($ROSTER token create conformance 2>/dev/null | tail -n 1)
  # Port 0: a free port, read back from the log, so parallel runs never collide.
  ROSTER_LISTEN=127.0.0.1:0 ROSTER_LOG_FORMAT=json ROSTER_LOG_LEVEL=info $ROSTER serve >"$WORK/$backend.log" 2>&1 &
  pid=$!
  url=
  for _ in $(seq 100); do
    url=$(grep -o '"url":"http://[^"]*"' "$WORK/$backend.log" | head -n 1 | cut -d'"' -f4 || true)
    [ -n "$url" ] && break
    sleep 0.1
  done
  [ -n "$url" ] || { cat "$WORK/$backend.log"; exit 1; }
  echo "-- scim2-tester on $backend"
  if ! "$VENV/bin/python" .ci/scim2-tester.py --url "$url/scim/v2/conformance" --token "$token" \
      | grep -v -E '^(SUCCESS|COMPLIANT|ACCEPTABLE) '; then
    status=1
  fi
  kill -TERM $pid
  wait $pid || true
done
psql "$PG_ADMIN" -q -c "DROP DATABASE IF EXISTS $db"
exit $status
