#!/usr/bin/env bash
# Reproduces the role-mapping table of BENCHMARKS.md on SQLite and on PostgreSQL:
# one-member PATCHes on a mapped vs an unmapped group, and one mapping applied to a
# BIG-member group (time, and roster's resident memory before and its peak after).
#
#   roster-bench/roles.sh [OPS] [BIG]      (defaults: 300 and 100000)
#   BACKENDS=pg roster-bench/roles.sh      (one backend only: sqlite or pg)
set -euo pipefail
cd "$(dirname "$0")/.."
OPS=${1:-300}
BIG=${2:-100000}
PORT=${BENCH_PORT:-18094}
OUT=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$OUT"' EXIT
source roster-bench/lib.sh
build

echo "machine: $(nproc) cores, $(uname -srm); ops=$OPS big=$BIG (one client, keep-alive)"
DB=roster_bench_roles${BENCH_PG_SUFFIX:-}
fresh_pg_db $DB
for target in "roster-sqlite sqlite://$OUT/roster.db" "roster-pg $PG_BASE/$DB"; do
  set -- $target
  case " ${BACKENDS:-sqlite pg} " in *" ${1#roster-} "*) ;; *) continue ;; esac
  start_roster "$1" "$2"
  KEY=$(ROSTER_DATABASE_URL=$2 $ROSTER api-key create bench 2>/dev/null | tail -n 1)
  $BENCH roles --base-url "$(BASE_URL)" --token "$TOKEN" --api-url "http://127.0.0.1:$PORT/api/v1/tenants/bench" \
    --key "$KEY" --ops "$OPS" --big "$BIG" --server-pid "$ROSTER_PID" --label "$1" --json "$OUT/$1.json"
  stop_roster
done
drop_pg_db $DB

python3 - "$OUT" <<'PY'
import json, sys, pathlib
out = pathlib.Path(sys.argv[1])
print("\n| backend | PATCH add p50 / p99 ms, unmapped | mapped | ratio p50 | remove unmapped | mapped | ratio p50 | apply mapping to big group, s |")
print("|---|---|---|---|---|---|---|---|")
for label in ("roster-sqlite", "roster-pg"):
    if not (out / f"{label}.json").exists():
        continue
    r = {row["phase"]: row for row in json.loads((out / f"{label}.json").read_text())}
    ua, ma = r["patch_add_unmapped"], r["patch_add_mapped"]
    ur, mr = r["patch_remove_unmapped"], r["patch_remove_mapped"]
    ap = r["apply_mapping_to_big_group"]
    print(f"| {label.removeprefix('roster-')} | {ua['p50_ms']:.2f} / {ua['p99_ms']:.2f} | {ma['p50_ms']:.2f} / {ma['p99_ms']:.2f} | "
          f"{ma['p50_ms'] / ua['p50_ms']:.2f}x | {ur['p50_ms']:.2f} / {ur['p99_ms']:.2f} | {mr['p50_ms']:.2f} / {mr['p99_ms']:.2f} | "
          f"{mr['p50_ms'] / ur['p50_ms']:.2f}x | {ap['seconds']:.1f} |")
PY
