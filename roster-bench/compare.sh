#!/usr/bin/env bash
# Reproduces the comparison in BENCHMARKS.md: the same identity-provider-shaped workload
# against roster on SQLite, roster on PostgreSQL and the independent scim2-server (PyPI),
# in one run, with this machine's limits (raw commits with roster's durability settings,
# and the HTTP floor: an empty actix-web handler, `roster-bench floor-server`) measured
# alongside.
# Writes the table to stdout and the chart to docs/bench/phases.svg.
#
#   roster-bench/compare.sh [USERS] [LOOKUPS] [CONCURRENCY]
set -euo pipefail
cd "$(dirname "$0")/.."
USERS=${1:-5000}
LOOKUPS=${2:-1000}
CONCURRENCY=${3:-4}
PORT=${BENCH_PORT:-18092}
OUT=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$OUT"' EXIT
source roster-bench/lib.sh
build
VENV=target/scim2-server-venv
[ -x "$VENV/bin/scim2-server" ] || { python3 -m venv "$VENV" && "$VENV/bin/pip" install -q scim2-server==0.8.3; }

# The HTTP floor: an empty actix-web handler on its own port, timed in each roster run.
FLOOR_PORT=$((PORT + 1))
$BENCH floor-server --port "$FLOOR_PORT" &
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$FLOOR_PORT/" >/dev/null && break; sleep 0.1; done

phases() { # label base-url token [floor-url]
  local floor=()
  [ -n "${4:-}" ] && floor=(--floor-url "$4")
  $BENCH scim --base-url "$2" --token "$3" --users "$USERS" --lookups "$LOOKUPS" \
    --concurrency "$CONCURRENCY" --label "$1" --json "$OUT/$1.json" "${floor[@]}"
}

echo "machine: $(nproc) cores, $(uname -srm); users=$USERS lookups=$LOOKUPS concurrency=$CONCURRENCY"
fresh_pg_db roster_bench_cmp
fresh_pg_db roster_bench_cmp_raw
for target in "roster-sqlite sqlite://$OUT/roster.db" "roster-pg $PG_BASE/roster_bench_cmp"; do
  set -- $target
  start_roster "$1" "$2"
  phases "$1" "$(BASE_URL)" "$TOKEN" "http://127.0.0.1:$FLOOR_PORT/"
  stop_roster
done
"$VENV/bin/scim2-server" --port "$PORT" --bearer-token benchtoken --tenant bench >"$OUT/scim2-server.log" 2>&1 &
S2S=$!
for _ in $(seq 100); do curl -sf -H 'Authorization: Bearer benchtoken' "http://127.0.0.1:$PORT/bench/v2/ServiceProviderConfig" >/dev/null && break; sleep 0.2; done
phases scim2-server "http://127.0.0.1:$PORT/bench/v2" benchtoken
kill "$S2S"; wait "$S2S" 2>/dev/null || true
$BENCH baseline --database-url "sqlite://$OUT/raw.db" --rows "$USERS" --lookups "$LOOKUPS" --label raw-sqlite --json "$OUT/raw-sqlite.json"
$BENCH baseline --database-url "$PG_BASE/roster_bench_cmp_raw" --rows "$USERS" --lookups "$LOOKUPS" --label raw-pg --json "$OUT/raw-pg.json"
drop_pg_db roster_bench_cmp
drop_pg_db roster_bench_cmp_raw

mkdir -p docs/bench
python3 - "$OUT" docs/bench/phases.svg <<'PY'
import json, sys, pathlib, html
out, svg_path = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
r = {p.stem: {row["phase"]: row for row in json.loads(p.read_text())} for p in out.glob("*.json")}
targets = ["roster-sqlite", "roster-pg", "scim2-server"]
phases = [p for p in r["roster-sqlite"] if p != "http_floor"]
print("\n| phase | roster SQLite ops/s (p50/p99 ms) | roster PostgreSQL ops/s (p50/p99 ms) | scim2-server ops/s (p50/p99 ms) | SQLite ÷ scim2-server | PostgreSQL ÷ scim2-server |")
print("|---|---|---|---|---|---|")
for ph in phases:
    cells, rates = [], {}
    for t in targets:
        row = r[t].get(ph)
        if row is None or row["errors"]:
            cells.append("n/a" if row is None else f"{row['errors']} errors")
            continue
        rates[t] = row["ops_per_sec"]
        cells.append(f"{row['ops_per_sec']:.0f} ({row['p50_ms']:.2f}/{row['p99_ms']:.2f})")
    ratio = lambda t: f"{rates[t] / rates['scim2-server']:.2f}×" if t in rates and "scim2-server" in rates else "n/a"
    print(f"| {ph} | " + " | ".join(cells) + f" | {ratio('roster-sqlite')} | {ratio('roster-pg')} |")
print("\n| limit (same run) | ops/s | p50 / p99 ms |\n|---|---|---|")
for label, key, ph in [("raw SQLite commit (WAL, synchronous=FULL)", "raw-sqlite", "raw_insert_commit"),
                       ("raw PostgreSQL commit", "raw-pg", "raw_insert_commit"),
                       ("HTTP floor: an empty actix-web handler (during the SQLite run)", "roster-sqlite", "http_floor"),
                       ("HTTP floor: an empty actix-web handler (during the PostgreSQL run)", "roster-pg", "http_floor")]:
    row = r[key][ph]
    print(f"| {label} | {row['ops_per_sec']:.0f} | {row['p50_ms']:.2f} / {row['p99_ms']:.2f} |")
for backend, raw in (("roster-sqlite", "raw-sqlite"), ("roster-pg", "raw-pg")):
    c, i = r[backend]["create_user"], r[raw]["raw_insert_commit"]
    print(f"\n{backend}: POST /Users at {c['ops_per_sec'] / i['ops_per_sec']:.2f} of the raw commit rate")

# Chart: p50 latency per phase and target, log-free horizontal bars.
colors = {"roster-sqlite": "#2b6cb0", "roster-pg": "#38a169", "scim2-server": "#d69e2e"}
bar, gap, left, width = 12, 10, 230, 520
rows = [(ph, t, r[t][ph]["p50_ms"]) for ph in phases for t in targets if ph in r[t] and not r[t][ph]["errors"]]
top = max(v for _, _, v in rows) or 1
height = len(phases) * (len(targets) * bar + gap) + 60
parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{left + width + 90}" height="{height}" font-family="sans-serif" font-size="11">',
         f'<text x="10" y="18" font-size="13" font-weight="bold">p50 latency per phase (ms), same workload, one run</text>']
y = 34
for ph in phases:
    parts.append(f'<text x="10" y="{y + bar * 1.8:.0f}">{html.escape(ph)}</text>')
    for t in targets:
        row = r[t].get(ph)
        if row and not row["errors"]:
            w = max(1, row["p50_ms"] / top * width)
            parts.append(f'<rect x="{left}" y="{y}" width="{w:.1f}" height="{bar - 2}" fill="{colors[t]}"/>')
            parts.append(f'<text x="{left + w + 4:.1f}" y="{y + bar - 3}">{row["p50_ms"]:.2f}</text>')
        y += bar
    y += gap
legend_x = left
for t in targets:
    parts.append(f'<rect x="{legend_x}" y="{height - 18}" width="10" height="10" fill="{colors[t]}"/><text x="{legend_x + 14}" y="{height - 9}">{t}</text>')
    legend_x += 130
parts.append("</svg>")
svg_path.write_text("\n".join(parts))
print(f"\nchart: {svg_path}")
PY
