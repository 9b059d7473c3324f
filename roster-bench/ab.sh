#!/usr/bin/env bash
# Before and after a change (BENCHMARKS.md, "Run of 2026-12-08"): `roster-bench scim` on a
# fresh SQLite file against another build of roster and this one, in turn, RUNS times.
# Usage: roster-bench/ab.sh OLD_ROSTER_BINARY [runs] [clients]
# (build the old one with `git worktree add /tmp/old <commit>` and `cargo build --release`
# there).
set -euo pipefail
cd "$(dirname "$0")/.."
OLD=$1
RUNS=${2:-3}
CLIENTS=${3:-32}
PORT=${BENCH_PORT:-18110}
OUT=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$OUT"' EXIT
source roster-bench/lib.sh
build
ensure_fds "$CLIENTS"
NEW=$ROSTER
for run in $(seq "$RUNS"); do
  for build in old new; do
    if [ $build = old ]; then ROSTER=$OLD; else ROSTER=$NEW; fi
    rm -f "$OUT"/db.sqlite*
    start_roster "$build$run" "sqlite://$OUT/db.sqlite"
    $BENCH scim --base-url "$(BASE_URL)" --token "$TOKEN" --users 10000 --lookups 1000 \
      --concurrency "$CLIENTS" --label "$build-$run" | grep -v '^target' || echo "$build-$run: some phases had errors"
    stop_roster
  done
done
