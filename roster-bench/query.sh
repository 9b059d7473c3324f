#!/usr/bin/env bash
# Reproduces the query-engine table of BENCHMARKS.md: look-ups, a `co` search, a sorted
# page, and page 1 and a deep page by startIndex and by cursor, at 100k and 1M users, on
# SQLite and on PostgreSQL. The users are written straight into roster's tables; every
# timed request goes through `roster serve`. Query plans go to stderr.
#
#   roster-bench/query.sh [SIZES] [LOOKUPS]      (defaults: 100000,1000000 and 500)
#   BACKENDS=pg roster-bench/query.sh            (one backend only: sqlite or pg)
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
DB=roster_bench_query${BENCH_PG_SUFFIX:-}
fresh_pg_db $DB
for target in "roster-sqlite sqlite://$OUT/roster.db" "roster-pg $PG_BASE/$DB"; do
  set -- $target
  case " ${BACKENDS:-sqlite pg} " in *" ${1#roster-} "*) ;; *) continue ;; esac
  start_roster "$1" "$2"
  $BENCH query --base-url "$(BASE_URL)" --token "$TOKEN" --database-url "$2" --sizes "$SIZES" \
    --lookups "$LOOKUPS" --label "$1" --json "$OUT/$1.json" 2>"$OUT/$1.plans"
  cat "$OUT/$1.plans" >&2
  stop_roster
done
drop_pg_db $DB

python3 - "$OUT" "$SIZES" <<'PY'
import json, sys, pathlib
out, sizes = pathlib.Path(sys.argv[1]), sys.argv[2].split(",")
pages = ["page_1", "mid_page", "deep_page", "last_page"]
phases = ["user_name_eq", "emails_value_path_eq", "emails_value_eq", "emails_entra_eq", "co_search", "sort_by_user_name_page"] \
    + [f"index_{p}" for p in pages] + [f"cursor_{p}" for p in pages]
print("\n| backend | phase | " + " | ".join(f"{int(s):,} p50 / p99 ms" for s in sizes) + f" | p50 {int(sizes[-1]):,} / {int(sizes[0]):,} |")
print("|---|---|" + "---|" * (len(sizes) + 1))
for label in ("roster-sqlite", "roster-pg"):
    if not (out / f"{label}.json").exists():
        continue
    rows = json.loads((out / f"{label}.json").read_text())
    r = {(row["target"].split("@")[1], row["phase"]): row for row in rows}
    for phase in phases:
        cells = [f"{r[(s, phase)]['p50_ms']:.2f} / {r[(s, phase)]['p99_ms']:.2f}" for s in sizes]
        ratio = r[(sizes[-1], phase)]["p50_ms"] / r[(sizes[0], phase)]["p50_ms"]
        print(f"| {label.removeprefix('roster-')} | {phase} | " + " | ".join(cells) + f" | {ratio:.2f} |")
    for s in sizes:
        # The slowest of page 1, middle, 90 % and last page over the fastest (p50).
        spread = {}
        for way in ("index", "cursor"):
            p50 = [r[(s, f"{way}_{p}")]["p50_ms"] for p in pages]
            spread[way] = max(p50) / min(p50)
        print(f"| {label.removeprefix('roster-')} | slowest / fastest page at {int(s):,} | "
              f"startIndex {spread['index']:.2f} | cursor {spread['cursor']:.2f} | |")
PY
