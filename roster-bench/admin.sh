#!/usr/bin/env bash
# Reproduces the admin UI table of BENCHMARKS.md: every admin page with 100k users in
# 1k groups (one holding everyone) and 100k sync-log rows, on SQLite and PostgreSQL.
# Server time is roster's own Server-Timing header; the HTTP floor is /healthz.
#
#   roster-bench/admin.sh [USERS] [GROUPS] [SAMPLES]   (defaults: 100000 1000 50)
#   BACKENDS=pg roster-bench/admin.sh                  (one backend only: sqlite or pg)
set -euo pipefail
cd "$(dirname "$0")/.."
USERS=${1:-100000}
GROUP_COUNT=${2:-1000}
SAMPLES=${3:-50}
PORT=${BENCH_PORT:-18095}
OUT=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$OUT"' EXIT
source roster-bench/lib.sh
build

echo "machine: $(nproc) cores, $(uname -srm); users=$USERS groups=$GROUP_COUNT samples=$SAMPLES per page (one client, keep-alive)"
fresh_pg_db roster_bench_admin
for target in "roster-sqlite sqlite://$OUT/roster.db" "roster-pg $PG_BASE/roster_bench_admin"; do
  set -- $target
  case " ${BACKENDS:-sqlite pg} " in *" ${1#roster-} "*) ;; *) continue ;; esac
  start_roster "$1" "$2"
  KEY=$(ROSTER_DATABASE_URL=$2 $ROSTER api-key create bench 2>/dev/null | tail -n 1)
  LINK=$(ROSTER_DATABASE_URL=$2 ROSTER_PUBLIC_URL=http://127.0.0.1:$PORT $ROSTER admin login-link bench 2>/dev/null | tail -n 1)
  args=(--server "http://127.0.0.1:$PORT" --database-url "$2" --key "$KEY" --users "$USERS" --groups "$GROUP_COUNT")
  $BENCH admin "${args[@]}" --login-link "$LINK" --stage load
  # A restart, as a long-running roster gets within 30 minutes (r2d2 recycles its
  # connections): SQLite's connections gather and read the planner's statistics on open.
  stop_roster
  ROSTER_DATABASE_URL=$2 ROSTER_LISTEN=127.0.0.1:$PORT ROSTER_LOG_LEVEL=warn $ROSTER serve >/dev/null 2>>"$OUT/$1.log" &
  ROSTER_PID=$!
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null && break; sleep 0.1; done
  LINK=$(ROSTER_DATABASE_URL=$2 ROSTER_PUBLIC_URL=http://127.0.0.1:$PORT $ROSTER admin login-link bench 2>/dev/null | tail -n 1)
  $BENCH admin "${args[@]}" --login-link "$LINK" --stage measure --samples "$SAMPLES" --label "$1" --json "$OUT/$1.json"
  stop_roster
done
drop_pg_db roster_bench_admin

python3 - "$OUT" <<'PY'
import json, sys, pathlib
out = pathlib.Path(sys.argv[1])
labels = [l for l in ("roster-sqlite", "roster-pg") if (out / f"{l}.json").exists()]
data = {l: {row["phase"]: row for row in json.loads((out / f"{l}.json").read_text())} for l in labels}
print("\n| page | " + " | ".join(f"{l.removeprefix('roster-')} server p50 / p99 / max ms | client p50 ms" for l in labels) + " |")
print("|---|" + "---|---|" * len(labels))
worst = {l: 0.0 for l in labels}
for phase in data[labels[0]]:
    if phase.endswith("(client)") or phase == "http_floor_healthz":
        continue
    cells = []
    for l in labels:
        s, c = data[l][phase], data[l][f"{phase} (client)"]
        worst[l] = max(worst[l], s["max_ms"])
        cells.append(f"{s['p50_ms']:.1f} / {s['p99_ms']:.1f} / {s['max_ms']:.1f} | {c['p50_ms']:.1f}")
    print(f"| {phase} | " + " | ".join(cells) + " |")
print("| HTTP floor (/healthz, client) | " + " | ".join(f"{data[l]['http_floor_healthz']['p50_ms']:.2f} | " for l in labels) + "")
for l in labels:
    print(f"\n{l}: slowest page render {worst[l]:.1f} ms (budget 200 ms): {'PASS' if worst[l] < 200 else 'FAIL'}")
PY
