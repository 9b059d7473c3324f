#!/usr/bin/env bash
# Reproduces the big-group table of BENCHMARKS.md: one-member PATCH add and remove on
# groups of 100, 10k and 100k members, on SQLite and on PostgreSQL.
#
# For each backend: users through /Bulk, each group filled with PATCH adds of 1000 values,
# then OPS timed single-member adds and OPS removes per group, JumpCloud's and Entra's
# shape `{"op":"add"|"remove","path":"members","value":[{"value":id}]}` with
# `?excludedAttributes=members`, from CONCURRENCY clients at once (each with a keep-alive
# connection). Each operation adds then removes its own user from outside the group, so
# no two operations name the same user. The report has p50/p99 and errors per size, and
# each size's p99 against the 100-member group's.
#
#   roster-bench/groups.sh [SIZES] [OPS] [CONCURRENCY]   (defaults: 100,10000,100000 300 32)
set -euo pipefail
cd "$(dirname "$0")/.."
SIZES=${1:-100,10000,100000}
OPS=${2:-300}
CONCURRENCY=${3:-32}
PORT=${BENCH_PORT:-18091}
OUT=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$OUT"' EXIT
source roster-bench/lib.sh
build
ensure_fds "$CONCURRENCY"

echo "machine: $(nproc) cores, $(uname -srm); sizes=$SIZES ops=$OPS concurrency=$CONCURRENCY (keep-alive clients)"
fresh_pg_db roster_bench_groups_$PORT
for target in "roster-sqlite sqlite://$OUT/roster.db" "roster-pg $PG_BASE/roster_bench_groups_$PORT"; do
  set -- $target
  start_roster "$1" "$2"
  $BENCH groups --base-url "$(BASE_URL)" --token "$TOKEN" --sizes "$SIZES" --ops "$OPS" \
    --concurrency "$CONCURRENCY" --label "$1" --json "$OUT/$1.json" ||
    echo "$1: some operations failed (see the table)"
  stop_roster
done
drop_pg_db roster_bench_groups_$PORT

python3 - "$OUT" "$SIZES" "$CONCURRENCY" <<'PY'
import json, sys, pathlib
out, sizes, concurrency = pathlib.Path(sys.argv[1]), sys.argv[2].split(","), sys.argv[3]
print(f"\n{concurrency} concurrent clients\n")
print("| backend | members | add p50 / p99 ms | remove p50 / p99 ms | errors (add / remove) | add p99 vs smallest | remove p99 vs smallest |")
print("|---|---|---|---|---|---|---|")
for label in ("roster-sqlite", "roster-pg"):
    path = out / f"{label}.json"
    if not path.exists():
        print(f"| {label.removeprefix('roster-')} | no results | | | | | |")
        continue
    r = {row["phase"]: row for row in json.loads(path.read_text())}
    base_add, base_remove = r[f"add_member_of_{sizes[0]}"], r[f"remove_member_of_{sizes[0]}"]
    for size in sizes:
        a, d = r[f"add_member_of_{size}"], r[f"remove_member_of_{size}"]
        errors = f"{a['errors']} / {d['errors']}"
        if a.get("status_503") or d.get("status_503"):
            errors += f" ({a.get('status_503', 0)} / {d.get('status_503', 0)} × 503)"
        ratio = lambda row, base: f"{row['p99_ms'] / base['p99_ms']:.2f}×" if base["p99_ms"] else "n/a"
        print(f"| {label.removeprefix('roster-')} | {int(size):,} | {a['p50_ms']:.2f} / {a['p99_ms']:.2f} | "
              f"{d['p50_ms']:.2f} / {d['p99_ms']:.2f} | {errors} | {ratio(a, base_add)} | {ratio(d, base_remove)} |")
PY
