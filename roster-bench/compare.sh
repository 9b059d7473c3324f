#!/usr/bin/env bash
# Reproduces the comparison in BENCHMARKS.md: identity-provider-shaped load against roster
# on SQLite, roster on PostgreSQL and the independent scim2-server (PyPI), one target
# after another, with this machine's limits (raw commits with roster's durability
# settings, and the HTTP floor: an empty actix-web handler, `roster-bench floor-server`)
# measured alongside. The whole comparison runs once per concurrency: that many clients,
# each with its own keep-alive connection, drive every phase:
#
#   create_user                 POST /Users, USERS users (JumpCloud's body)
#   lookup_user_name_eq         GET /Users?filter=userName eq "…", LOOKUPS times
#   get_user_by_id              GET /Users/{id}, LOOKUPS times
#   create_group                POST /Groups with a displayName only, clamp(USERS/100, 1, 100) groups
#   patch_add_50_members        PATCH /Groups/{id} adding 50 members, twice per group (100
#                               members each), no excludedAttributes, as IdPs send it
#   patch_one_member_big_group  one group filled to 5,000 members first (untimed), then
#                               LOOKUPS × 2 one-member adds (JumpCloud's and Entra's shape) and
#                               removes (members[value eq "…"], which every target accepts),
#                               no query parameters
#   page_all_users_100          every user, 100 per page
#   put_user                    LOOKUPS full PUTs
#   deactivate_user_patch       LOOKUPS PATCHes of active=false
#   delete_user                 every user
#
# Any non-2xx answer is an error (503s are also counted apart). After create_user on
# roster, its /metrics histogram roster_write_batch_size (use cases per commit) is printed
# when roster reports it.
#
# Per concurrency it prints a markdown table, a line saying whether every phase had 0
# errors and whether SQLite is ≥ 5× and PostgreSQL ≥ 3× scim2-server on every phase, the
# limits, and writes the chart docs/bench/phases-c{N}.svg (p50 per phase).
#
# scim2-server's test server is wsgiref with socketserver's listen backlog of 5, and
# speaks HTTP/1.0 (a new connection per request). At 32 clients and more the backlog
# overflows: the kernel drops connections (1 s SYN retries, resets). It is started with a
# backlog of PEER_BACKLOG (default 1024) so the peer, not its accept queue, is measured.
#
#   roster-bench/compare.sh [USERS] [LOOKUPS] [CONCURRENCIES]   (defaults: 10000 1000 "32 256")
#
# Needs a PostgreSQL server at $BENCH_PG_URL (default postgres://postgres@127.0.0.1:5432/postgres).
set -euo pipefail
cd "$(dirname "$0")/.."
USERS=${1:-10000}
LOOKUPS=${2:-1000}
CONCURRENCIES=${3:-32 256}
PEER_BACKLOG=${PEER_BACKLOG:-1024}
PORT=${BENCH_PORT:-18092}
OUT=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$OUT"' EXIT
source roster-bench/lib.sh
build
for c in $CONCURRENCIES; do ensure_fds "$c"; done
VENV=${SCIM2_SERVER_VENV:-$TARGET/scim2-server-venv}
[ -x "$VENV/bin/scim2-server" ] || { python3 -m venv "$VENV" && "$VENV/bin/pip" install -q scim2-server==0.8.3; }

# The HTTP floor: an empty actix-web handler on its own port, timed in each roster run.
FLOOR_PORT=$((PORT + 1))
$BENCH floor-server --port "$FLOOR_PORT" &
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$FLOOR_PORT/" >/dev/null && break; sleep 0.1; done

phases() { # dir concurrency label base-url token [extra arguments]
  local dir=$1 c=$2 label=$3 url=$4 token=$5
  shift 5
  $BENCH scim --base-url "$url" --token "$token" --users "$USERS" --lookups "$LOOKUPS" \
    --concurrency "$c" --label "$label" --json "$dir/$label.json" "$@" ||
    echo "$label: some phases had errors (see the table)"
}

compare() { # concurrency
  local c=$1 dir=$OUT/c$1
  mkdir -p "$dir"
  echo
  echo "## $c clients"
  echo "machine: $(nproc) cores, $(uname -srm); users=$USERS lookups=$LOOKUPS concurrency=$c"
  fresh_pg_db roster_bench_cmp_$PORT
  fresh_pg_db roster_bench_cmp_raw_$PORT
  for target in "roster-sqlite sqlite://$dir/roster.db" "roster-pg $PG_BASE/roster_bench_cmp_$PORT"; do
    set -- $target
    start_roster "$1" "$2"
    phases "$dir" "$c" "$1" "$(BASE_URL)" "$TOKEN" \
      --floor-url "http://127.0.0.1:$FLOOR_PORT/" --metrics-url "http://127.0.0.1:$PORT/metrics"
    stop_roster
  done
  "$VENV/bin/python" -c 'import socketserver, sys
socketserver.TCPServer.request_queue_size = int(sys.argv.pop(1))
sys.argv[0] = "scim2-server"
from scim2_server.testserver.cli import main
main()' "$PEER_BACKLOG" --port "$PORT" --bearer-token benchtoken --tenant bench >"$dir/scim2-server.log" 2>&1 &
  local s2s=$!
  for _ in $(seq 100); do curl -sf -H 'Authorization: Bearer benchtoken' "http://127.0.0.1:$PORT/bench/v2/ServiceProviderConfig" >/dev/null && break; sleep 0.2; done
  # Its one-member PATCH on a 5,000-member group takes about half a second and runs one
  # at a time: PEER_BIG_GROUP_PAIRS pairs (default 50) give its rate in under a minute.
  phases "$dir" "$c" scim2-server "http://127.0.0.1:$PORT/bench/v2" benchtoken \
    --big-group-pairs "${PEER_BIG_GROUP_PAIRS:-50}"
  kill "$s2s"; wait "$s2s" 2>/dev/null || true
  $BENCH baseline --database-url "sqlite://$dir/raw.db" --rows "$USERS" --lookups "$LOOKUPS" --label raw-sqlite --json "$dir/raw-sqlite.json"
  $BENCH baseline --database-url "$PG_BASE/roster_bench_cmp_raw_$PORT" --rows "$USERS" --lookups "$LOOKUPS" --label raw-pg --json "$dir/raw-pg.json"
  drop_pg_db roster_bench_cmp_$PORT
  drop_pg_db roster_bench_cmp_raw_$PORT
  mkdir -p docs/bench
  python3 roster-bench/compare_report.py "$dir" "$c" "docs/bench/phases-c$c.svg"
}

for c in $CONCURRENCIES; do compare "$c"; done
