#!/usr/bin/env bash
# Reproduces BENCHMARKS.md: roster on SQLite and on PostgreSQL, and each database's raw
# single-row commit rate measured in the same run, as the physical limit.
#
#   roster-bench/run.sh [USERS] [LOOKUPS] [CONCURRENCY]
#
# Needs a PostgreSQL server at $BENCH_PG_URL (default postgres://postgres@127.0.0.1:5432/postgres).
set -euo pipefail
cd "$(dirname "$0")/.."
USERS=${1:-10000}
LOOKUPS=${2:-2000}
CONCURRENCY=${3:-4}
PG_ADMIN=${BENCH_PG_URL:-postgres://postgres@127.0.0.1:5432/postgres}
PG_BASE=${PG_ADMIN%/*}
PORT=${BENCH_PORT:-18090}

cargo build --release -q -p roster -p roster-bench
ROSTER=target/release/roster
BENCH=target/release/roster-bench
OUT=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$OUT"' EXIT

psql "$PG_ADMIN" -q -c 'DROP DATABASE IF EXISTS roster_bench' -c 'CREATE DATABASE roster_bench' \
  -c 'DROP DATABASE IF EXISTS roster_bench_raw' -c 'CREATE DATABASE roster_bench_raw' >/dev/null

run_roster() { # label database-url
  local label=$1 url=$2
  ROSTER_DATABASE_URL=$url $ROSTER tenant create bench >/dev/null
  local token
  token=$(ROSTER_DATABASE_URL=$url $ROSTER token create bench 2>/dev/null | tail -n 1)
  ROSTER_DATABASE_URL=$url ROSTER_LISTEN=127.0.0.1:$PORT ROSTER_LOG_LEVEL=warn $ROSTER serve >/dev/null 2>"$OUT/$label.log" &
  local pid=$!
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null && break; sleep 0.1; done
  $BENCH scim --base-url "http://127.0.0.1:$PORT/scim/v2/bench" --token "$token" \
    --users "$USERS" --lookups "$LOOKUPS" --concurrency "$CONCURRENCY" --label "$label" --json "$OUT/$label.json" \
    --floor-url "http://127.0.0.1:$PORT/healthz"
  kill -TERM $pid; wait $pid || true
}

echo "machine: $(nproc) cores, $(uname -srm); users=$USERS lookups=$LOOKUPS concurrency=$CONCURRENCY"
run_roster roster-sqlite "sqlite://$OUT/roster.db"
run_roster roster-pg "$PG_BASE/roster_bench"
$BENCH baseline --database-url "sqlite://$OUT/raw.db" --rows "$USERS" --lookups "$LOOKUPS" --label raw-sqlite --json "$OUT/raw-sqlite.json"
$BENCH baseline --database-url "$PG_BASE/roster_bench_raw" --rows "$USERS" --lookups "$LOOKUPS" --label raw-pg --json "$OUT/raw-pg.json"
psql "$PG_ADMIN" -q -c 'DROP DATABASE roster_bench' -c 'DROP DATABASE roster_bench_raw' >/dev/null

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
