#!/usr/bin/env bash
# One writer against two per tenant on PostgreSQL (BENCHMARKS.md, "Two writers per
# tenant"): `roster-bench scim` on a fresh database for each value of
# write_writers_per_tenant in turn, then roster_write_reruns_total from /metrics.
# Usage: roster-bench/writers.sh [clients] [writer counts, in order]
# Needs a PostgreSQL server at $BENCH_PG_URL (default postgres://postgres@127.0.0.1:5432/postgres).
set -euo pipefail
cd "$(dirname "$0")/.."
CLIENTS=${1:-256}
WRITERS=${2:-1 2 1 2}
PORT=${BENCH_PORT:-18100}
OUT=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; drop_pg_db roster_bench_writers_$PORT; rm -rf "$OUT"' EXIT
source roster-bench/lib.sh
build
ensure_fds "$CLIENTS"
for w in $WRITERS; do
  fresh_pg_db roster_bench_writers_$PORT
  ROSTER_WRITE_WRITERS_PER_TENANT=$w start_roster "w$w" "$PG_BASE/roster_bench_writers_$PORT"
  echo "## write_writers_per_tenant = $w, $CLIENTS clients"
  $BENCH scim --base-url "$(BASE_URL)" --token "$TOKEN" --users 10000 --lookups 1000 \
    --concurrency "$CLIENTS" --label "pg-w$w" || echo "pg-w$w: some phases had errors"
  curl -s "http://127.0.0.1:$PORT/metrics" | grep '^roster_write_reruns_total' || echo "reruns: not reported"
  stop_roster
done
