#!/usr/bin/env bash
# Reproduces the query-engine table of BENCHMARKS.md: look-ups, a `co` search, a sorted
# page, and page 1 and a deep page by startIndex and by cursor, at 100k and 1M users, on
# SQLite and on PostgreSQL. The users are written straight into roster's tables; every
# timed request goes through `roster serve`. Query plans go to stderr.
#
#   roster-bench/query.sh [SIZES] [LOOKUPS]      (defaults: 100000,1000000 and 500)
set -euo pipefail
cd "$(dirname "$0")/.."
SIZES=${1:-100000,1000000}
LOOKUPS=${2:-500}
PORT=${BENCH_PORT:-18092}
OUT=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$OUT"' EXIT
source roster-bench/lib.sh
build

echo "machine: $(nproc) cores, $(uname -srm); sizes=$SIZES lookups=$LOOKUPS (one client, keep-alive)"
fresh_pg_db roster_bench_query
for target in "roster-sqlite sqlite://$OUT/roster.db" "roster-pg $PG_BASE/roster_bench_query"; do
  set -- $target
  start_roster "$1" "$2"
  $BENCH query --base-url "$(BASE_URL)" --token "$TOKEN" --database-url "$2" --sizes "$SIZES" \
    --lookups "$LOOKUPS" --label "$1" --json "$OUT/$1.json" 2>"$OUT/$1.plans"
  cat "$OUT/$1.plans" >&2
  stop_roster
done
drop_pg_db roster_bench_query

python3 - "$OUT" "$SIZES" <<'PY'
import json, sys, pathlib
out, sizes = pathlib.Path(sys.argv[1]), sys.argv[2].split(",")
phases = ["user_name_eq", "emails_value_path_eq", "emails_value_eq", "emails_entra_eq", "co_search", "sort_by_user_name_page",
          "index_page_1", "index_deep_page", "cursor_page_1", "cursor_deep_page"]
print("\n| backend | phase | " + " | ".join(f"{int(s):,} p50 / p99 ms" for s in sizes) + f" | p50 {int(sizes[-1]):,} / {int(sizes[0]):,} |")
print("|---|---|" + "---|" * (len(sizes) + 1))
for label in ("roster-sqlite", "roster-pg"):
    rows = json.loads((out / f"{label}.json").read_text())
    r = {(row["target"].split("@")[1], row["phase"]): row for row in rows}
    for phase in phases:
        cells = [f"{r[(s, phase)]['p50_ms']:.2f} / {r[(s, phase)]['p99_ms']:.2f}" for s in sizes]
        ratio = r[(sizes[-1], phase)]["p50_ms"] / r[(sizes[0], phase)]["p50_ms"]
        print(f"| {label.removeprefix('roster-')} | {phase} | " + " | ".join(cells) + f" | {ratio:.2f} |")
    for s in sizes:
        deep = r[(s, "cursor_deep_page")]["p50_ms"] / r[(s, "cursor_page_1")]["p50_ms"]
        index = r[(s, "index_deep_page")]["p50_ms"] / r[(s, "index_page_1")]["p50_ms"]
        print(f"| {label.removeprefix('roster-')} | deep / page 1 at {int(s):,} | cursor {deep:.2f} | startIndex {index:.2f} | |")
PY
