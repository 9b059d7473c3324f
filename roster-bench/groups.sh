#!/usr/bin/env bash
# Reproduces the big-group table of BENCHMARKS.md: one-member PATCH add and remove on
# groups of 100, 10k and 100k members, on SQLite and on PostgreSQL.
#
#   roster-bench/groups.sh [SIZES] [OPS]      (defaults: 100,10000,100000 and 300)
set -euo pipefail
cd "$(dirname "$0")/.."
SIZES=${1:-100,10000,100000}
OPS=${2:-300}
PORT=${BENCH_PORT:-18091}
OUT=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$OUT"' EXIT
source roster-bench/lib.sh
build

echo "machine: $(nproc) cores, $(uname -srm); sizes=$SIZES ops=$OPS (one client, keep-alive)"
fresh_pg_db roster_bench_groups
for target in "roster-sqlite sqlite://$OUT/roster.db" "roster-pg $PG_BASE/roster_bench_groups"; do
  set -- $target
  start_roster "$1" "$2"
  $BENCH groups --base-url "$(BASE_URL)" --token "$TOKEN" --sizes "$SIZES" --ops "$OPS" --label "$1" --json "$OUT/$1.json"
  stop_roster
done
drop_pg_db roster_bench_groups

python3 - "$OUT" "$SIZES" <<'PY'
import json, sys, pathlib
out, sizes = pathlib.Path(sys.argv[1]), sys.argv[2].split(",")
print("\n| backend | members | add p50 / p99 ms | remove p50 / p99 ms | add p50 vs smallest |")
print("|---|---|---|---|---|")
for label in ("roster-sqlite", "roster-pg"):
    r = {row["phase"]: row for row in json.loads((out / f"{label}.json").read_text())}
    base = r[f"add_member_of_{sizes[0]}"]["p50_ms"]
    for size in sizes:
        a, d = r[f"add_member_of_{size}"], r[f"remove_member_of_{size}"]
        print(f"| {label.removeprefix('roster-')} | {int(size):,} | {a['p50_ms']:.2f} / {a['p99_ms']:.2f} | "
              f"{d['p50_ms']:.2f} / {d['p99_ms']:.2f} | {a['p50_ms'] / base:.2f}x |")
PY
