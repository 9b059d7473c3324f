#!/usr/bin/env bash
# Reproduces the foundation table of BENCHMARKS.md: roster on SQLite and on PostgreSQL,
# with each database's raw single-row commit rate and the HTTP floor measured in the
# same run.
#
#   roster-bench/run.sh [USERS] [LOOKUPS] [CONCURRENCY]
#
# Needs a PostgreSQL server at $BENCH_PG_URL (default postgres://postgres@127.0.0.1:5432/postgres).
set -euo pipefail
cd "$(dirname "$0")/.."
USERS=${1:-10000}
LOOKUPS=${2:-2000}
CONCURRENCY=${3:-4}
PORT=${BENCH_PORT:-18090}
OUT=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$OUT"' EXIT
source roster-bench/lib.sh
build

run_roster() { # label database-url
  start_roster "$1" "$2"
  $BENCH scim --base-url "$(BASE_URL)" --token "$TOKEN" --users "$USERS" --lookups "$LOOKUPS" \
    --concurrency "$CONCURRENCY" --label "$1" --json "$OUT/$1.json" --floor-url "http://127.0.0.1:$PORT/healthz"
  stop_roster
}

echo "machine: $(nproc) cores, $(uname -srm); users=$USERS lookups=$LOOKUPS concurrency=$CONCURRENCY"
fresh_pg_db roster_bench
fresh_pg_db roster_bench_raw
run_roster roster-sqlite "sqlite://$OUT/roster.db"
run_roster roster-pg "$PG_BASE/roster_bench"
$BENCH baseline --database-url "sqlite://$OUT/raw.db" --rows "$USERS" --lookups "$LOOKUPS" --label raw-sqlite --json "$OUT/raw-sqlite.json"
$BENCH baseline --database-url "$PG_BASE/roster_bench_raw" --rows "$USERS" --lookups "$LOOKUPS" --label raw-pg --json "$OUT/raw-pg.json"
drop_pg_db roster_bench
drop_pg_db roster_bench_raw

python3 - "$OUT" <<'PY'
import json, sys, pathlib
out = pathlib.Path(sys.argv[1])
r = {p.stem: {row["phase"]: row for row in json.loads(p.read_text())} for p in out.glob("*.json")}
def ms(p):
    return f"{p['p50_ms']:.2f} / {p['p99_ms']:.2f}"
print("\n| backend | POST /Users ops/s | raw commit ops/s | ratio | userName eq p50 / p99 ms | GET by id p50 / p99 ms | HTTP floor p50 / p99 ms | raw indexed read p50 / p99 ms |")
print("|---|---|---|---|---|---|---|---|")
for backend, raw in (("sqlite", "raw-sqlite"), ("pg", "raw-pg")):
    s, b = r[f"roster-{backend}"], r[raw]
    c, i = s["create_user"], b["raw_insert_commit"]
    print(f"| {backend} | {c['ops_per_sec']:.0f} | {i['ops_per_sec']:.0f} | {c['ops_per_sec']/i['ops_per_sec']:.2f} | "
          f"{ms(s['lookup_user_name_eq'])} | {ms(s['get_user_by_id'])} | {ms(s['http_floor'])} | "
          f"{b['raw_indexed_lookup']['p50_ms']:.3f} / {b['raw_indexed_lookup']['p99_ms']:.3f} |")
PY
