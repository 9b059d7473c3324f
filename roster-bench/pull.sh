#!/usr/bin/env bash
# Reproduces the directory pull table of BENCHMARKS.md: a first sync of N users and 200
# groups from the JumpCloud stand-in (tests/jumpcloud/standin.py), applied, then a
# no-change incremental sync, on SQLite and PostgreSQL, with wall time and peak memory
# (the `roster directory run` process's maximum RSS). The same-run limit is the fetch
# floor: a minimal keep-alive client reading the same pages from the same stand-in.
#
#   roster-bench/pull.sh [SIZES]           (default: "10000 100000")
#   BACKENDS=sqlite roster-bench/pull.sh 10000
set -euo pipefail
failed=0
cd "$(dirname "$0")/.."
SIZES=${1:-10000 100000}
PORT=${BENCH_PORT:-18098}
OUT=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$OUT"' EXIT
source roster-bench/lib.sh
build
export ROSTER_ALLOW_PRIVATE_WEBHOOK_URLS=true ROSTER_LOG_LEVEL=warn
echo jc-test-key >"$OUT/key"

# Reads every page a pull reads (users with the same projection, groups, each group's
# members), as fast as one keep-alive client can: what no pull can beat.
floor() { # url
  python3 - "$1" <<'PY'
import http.client, json, sys, time, urllib.parse
url = urllib.parse.urlparse(sys.argv[1])
c = http.client.HTTPConnection(url.hostname, url.port)
H = {"x-api-key": "jc-test-key"}
def pages(path, extra="", v1=False):
    skip, out = 0, []
    while True:
        c.request("GET", f"{path}?limit=100&skip={skip}&sort=_id{extra}", headers=H)
        body = json.loads(c.getresponse().read())
        page = body["results"] if v1 else body
        if not page:
            return out
        out.extend(page); skip += len(page)
t = time.monotonic()
fields = "&fields=" + urllib.parse.quote("_id username email firstname middlename lastname displayname jobTitle department costCenter company employeeIdentifier employeeType state suspended password_expired phoneNumbers addresses")
users = pages("/api/systemusers", fields, v1=True)
groups = pages("/api/v2/usergroups")
for g in groups:
    if g["name"] != "All Users":
        pages(f"/api/v2/usergroups/{g['id']}/members")
print(f"{time.monotonic() - t:.2f}")
PY
}

# One `roster directory run`; prints "wall_s max_rss_mb state fetch_ms plan_ms apply_ms creates".
run() { # database-url apply-flag
  ROSTER_DATABASE_URL=$1 /usr/bin/time -f "%e %M" -o "$OUT/time" \
    "$ROSTER" directory run bench $2 >"$OUT/run.json" 2>"$OUT/run.err" ||
    { echo "roster directory run failed: $(tail -n 3 "$OUT/run.err")" >&2; return 1; }
  read -r wall rss < <(tail -n 1 "$OUT/time")
  python3 - "$OUT/run.json" "$wall" "$rss" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
c = r["summary"].get("counts", {})
print(sys.argv[2], round(int(sys.argv[3]) / 1024), r["state"], r["fetch_ms"], r["plan_ms"],
      r.get("apply_ms") or 0, c.get("user.create", 0), r["summary"].get("requests", 0))
PY
}

echo "machine: $(nproc) cores, $(uname -srm)"
printf '%-8s %-7s %-12s %8s %8s %10s %9s %8s %9s %8s %7s\n' users backend sync wall_s rss_mb fetch_ms plan_ms apply_ms creates floor_s ratio
for n in $SIZES; do
  python3 tests/jumpcloud/standin.py --port 0 --users "$n" --groups 200 >"$OUT/standin.out" 2>"$OUT/standin.log" &
  for _ in $(seq 300); do [ -s "$OUT/standin.out" ] && break; sleep 0.1; done
  URL=$(python3 -c 'import json,sys; print(json.loads(open(sys.argv[1]).readline())["url"])' "$OUT/standin.out")
  FLOOR=$(floor "$URL")
  fresh_pg_db roster_bench_pull
  for target in "sqlite sqlite://$OUT/pull-$n.db" "pg $PG_BASE/roster_bench_pull"; do
    set -- $target
    case " ${BACKENDS:-sqlite pg} " in *" $1 "*) ;; *) continue ;; esac
    ROSTER_DATABASE_URL=$2 "$ROSTER" tenant create bench >/dev/null
    ROSTER_DATABASE_URL=$2 "$ROSTER" directory connect bench --api-key-file "$OUT/key" --base-url "$URL" >/dev/null
    for sync in first no-change; do
      flag=--apply
      out=$(run "$2" $flag) || { failed=1; continue; }
      read -r wall rss state fetch plan apply creates requests <<<"$out"
      ratio=$(python3 -c "print(f'{$wall / $FLOOR:.2f}')")
      printf '%-8s %-7s %-12s %8s %8s %10s %9s %8s %9s %8s %7s\n' "$n" "$1" "$sync($state)" "$wall" "$rss" "$fetch" "$plan" "$apply" "$creates" "$FLOOR" "${ratio}x"
    done
  done
  drop_pg_db roster_bench_pull
  kill %1 2>/dev/null || kill $(jobs -p) 2>/dev/null || true
  wait 2>/dev/null || true
done
exit $failed
