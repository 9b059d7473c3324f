#!/usr/bin/env bash
# Reproduces the noisy-tenant table of BENCHMARKS.md (reliability.md T26): tenant
# "quiet" looks users up at QUIET_RATE requests/s, timed alone and then while tenant
# "noisy" sends ten times its limit from 16 clients. roster runs with a per-tenant limit
# of LIMIT requests/s (burst 2 × LIMIT), on SQLite and on PostgreSQL.
#
#   roster-bench/noisy.sh [LIMIT] [QUIET_RATE] [SECONDS]   (defaults: 50 20 20)
set -euo pipefail
cd "$(dirname "$0")/.."
LIMIT=${1:-50}
QUIET_RATE=${2:-20}
SECONDS_EACH=${3:-20}
PORT=${BENCH_PORT:-18093}
OUT=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$OUT"' EXIT
source roster-bench/lib.sh
export ROSTER_TENANT_RATE_LIMIT=$LIMIT ROSTER_TENANT_RATE_BURST=$((2 * LIMIT))
build

echo "machine: $(nproc) cores, $(uname -srm); limit=$LIMIT/s quiet=$QUIET_RATE/s noisy=$((10 * LIMIT))/s, ${SECONDS_EACH}s each"
fresh_pg_db roster_bench_noisy_$PORT
for target in "roster-sqlite sqlite://$OUT/roster.db" "roster-pg $PG_BASE/roster_bench_noisy_$PORT"; do
  set -- $target
  ROSTER_DATABASE_URL=$2 $ROSTER tenant create quiet >/dev/null
  QUIET=$(ROSTER_DATABASE_URL=$2 $ROSTER token create quiet 2>/dev/null | tail -n 1)
  start_roster "$1" "$2" # also makes tenant "bench", the noisy one
  $BENCH noisy --quiet-url "http://127.0.0.1:$PORT/scim/v2/quiet" --quiet-token "$QUIET" \
    --noisy-url "$(BASE_URL)" --noisy-token "$TOKEN" --quiet-rate "$QUIET_RATE" \
    --noisy-rate $((10 * LIMIT)) --seconds "$SECONDS_EACH" --label "$1" --json "$OUT/$1.json" ||
    echo "$1: some requests failed (see the table)"
  stop_roster
done
drop_pg_db roster_bench_noisy_$PORT

python3 - "$OUT" <<'PY'
import json, sys, pathlib
out = pathlib.Path(sys.argv[1])
print("\n| backend | quiet alone p50 / p99 ms | quiet beside noisy p50 / p99 ms | p99 ratio | quiet errors | noisy sent/s | noisy accepted | noisy 429 | noisy other errors |")
print("|---|---|---|---|---|---|---|---|---|")
for label in ("roster-sqlite", "roster-pg"):
    path = out / f"{label}.json"
    if not path.exists():
        print(f"| {label.removeprefix('roster-')} | no results | | | | | | | |")
        continue
    r = {row["phase"]: row for row in json.loads(path.read_text())}
    a, b, n = r["quiet_tenant_alone"], r["quiet_tenant_beside_noisy"], r["noisy_tenant_10x_its_limit"]
    print(f"| {label.removeprefix('roster-')} | {a['p50_ms']:.2f} / {a['p99_ms']:.2f} | {b['p50_ms']:.2f} / {b['p99_ms']:.2f} | "
          f"{b['p99_over_alone']:.2f}× | {a['errors'] + b['errors']} | {n['ops_per_sec']:.0f} | {n['accepted']} | {n['status_429']} | {n['errors']} |")
PY
