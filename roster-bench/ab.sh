#!/usr/bin/env bash
# Before and after a change (BENCHMARKS.md, "Run of 2026-12-08"): `roster-bench scim` on a
# fresh SQLite file against another build of roster and this one, RUNS rounds; the first
# build of a round alternates, so neither always runs on a fresher machine.
# Usage: roster-bench/ab.sh OLD_ROSTER_BINARY [runs] [clients]
# (build the old one with `git worktree add /tmp/old <commit>` and `cargo build --release`
# there).
set -euo pipefail
OLD=$(realpath "$1")
[ -x "$OLD" ] || { echo "$1: not an executable" >&2; exit 1; }
cd "$(dirname "$0")/.."
RUNS=${2:-3}
CLIENTS=${3:-32}
PORT=${BENCH_PORT:-18110}
OUT=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$OUT"' EXIT
unset ROSTER_BIN # lib.sh would run it as this build
source roster-bench/lib.sh
build
ensure_fds "$CLIENTS"
NEW=$ROSTER
for run in $(seq "$RUNS"); do
  order="old new"
  [ $((run % 2)) = 1 ] || order="new old"
  for build in $order; do
    if [ "$build" = old ]; then ROSTER=$OLD; else ROSTER=$NEW; fi
    rm -f "$OUT"/db.sqlite*
    start_roster "$build$run" "sqlite://$OUT/db.sqlite" || { cat "$OUT/$build$run.log" >&2; exit 1; }
    $BENCH scim --base-url "$(BASE_URL)" --token "$TOKEN" --users 10000 --lookups 1000 \
      --concurrency "$CLIENTS" --label "$build-$run" >"$OUT/report" || echo "$build-$run: some phases had errors"
    grep -v '^target' "$OUT/report" || true
    stop_roster
  done
done
