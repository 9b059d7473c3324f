#!/usr/bin/env bash
# Builds roster and scim-conformance, then runs the suite against roster twice:
#   1. on SQLite: the suite starts roster itself (no --base-url);
#   2. on PostgreSQL: this script starts roster on a fresh database of the server at
#      $PG_URL_BASE (default postgres://postgres@127.0.0.1:5432) and passes --base-url.
# It prints each run, then one summary line per backend, and last the totals of both
# runs in the suite's own format. It exits non-zero if either run failed.
set -euo pipefail
cd "$(dirname "$0")/.."

PG_URL_BASE=${PG_URL_BASE:-postgres://postgres@127.0.0.1:5432}
PG_URL_BASE=${PG_URL_BASE%/}

cargo build -q -p roster --bin roster
cargo build -q -p scim-conformance
ROSTER=$PWD/target/debug/roster
SUITE=$PWD/target/debug/scim-conformance

WORK=$(mktemp -d)
DB=scim_conformance_$(date +%s)_$$
PID=
cleanup() {
  if [ -n "$PID" ]; then
    kill -TERM "$PID" 2>/dev/null || true
    wait "$PID" 2>/dev/null || true
  fi
  psql "$PG_URL_BASE/postgres" -q -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

status=0

echo "== scim-conformance against roster on SQLite (started by the suite)"
ROSTER_BIN=$ROSTER "$SUITE" --json "$WORK/sqlite.json" | tee "$WORK/sqlite.txt" || status=1

echo
echo "== scim-conformance against roster on PostgreSQL (database $DB)"
psql "$PG_URL_BASE/postgres" -q -c "CREATE DATABASE $DB"
export ROSTER_DATABASE_URL=$PG_URL_BASE/$DB
# PostgreSQL needs a configured secrets key.
ROSTER_SECRETS_KEY=$(head -c 32 /dev/urandom | base64)
export ROSTER_SECRETS_KEY
export ROSTER_LOG_LEVEL=warn
"$ROSTER" tenant create conformance >/dev/null
TOKEN=$("$ROSTER" token create conformance 2>/dev/null | tail -n 1)
PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
ROSTER_LISTEN=127.0.0.1:$PORT "$ROSTER" serve >"$WORK/roster-postgres.log" 2>&1 &
PID=$!
for _ in $(seq 300); do
  curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null && break
  kill -0 "$PID" 2>/dev/null || { cat "$WORK/roster-postgres.log"; exit 2; }
  sleep 0.1
done
"$SUITE" --base-url "http://127.0.0.1:$PORT/scim/v2/conformance" --token "$TOKEN" \
  --json "$WORK/postgres.json" | tee "$WORK/postgres.txt" || status=1
kill -TERM "$PID"
wait "$PID" || { echo "roster did not exit cleanly on SIGTERM"; status=1; }
PID=

echo
sqlite_summary=$(tail -n 1 "$WORK/sqlite.txt")
postgres_summary=$(tail -n 1 "$WORK/postgres.txt")
echo "sqlite:     $sqlite_summary"
echo "postgresql: $postgres_summary"
# The totals, in the suite's own format, are the last line.
python3 - "$WORK/sqlite.json" "$WORK/postgres.json" <<'EOF'
import json, os, sys
# A run that could not start wrote no JSON; its failure is in the exit status.
runs = [json.load(open(p)) for p in sys.argv[1:] if os.path.exists(p)]
print(", ".join(f"{sum(r[k] for r in runs)} {k}" for k in ("passed", "failed", "skipped")))
EOF
exit $status
