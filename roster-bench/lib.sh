# Shared by the benchmark scripts: build, start roster on a database, stop it.
# Sourced, not run. Expects $OUT (a temporary directory) and $PORT.
# Honours CARGO_TARGET_DIR (relative to the repository root). ROSTER_BIN runs another
# build of roster (an older one, for a before/after comparison).
TARGET=${CARGO_TARGET_DIR:-target}
ROSTER=${ROSTER_BIN:-$TARGET/release/roster}
BENCH=$TARGET/release/roster-bench
PG_ADMIN=${BENCH_PG_URL:-postgres://postgres@127.0.0.1:5432/postgres}
PG_BASE=${PG_ADMIN%/*}

build() { cargo build --release -q -p roster -p roster-bench; }

# Every client thread holds a keep-alive connection, and the server one per client:
# raises the soft open-files limit for that many clients, or fails saying why.
ensure_fds() { # clients
  local need=$(($1 * 2 + 512)) have
  have=$(ulimit -n)
  [ "$have" = unlimited ] || [ "$have" -ge "$need" ] || ulimit -n "$need" 2>/dev/null || {
    echo "ulimit -n is $have (hard limit $(ulimit -Hn)); $1 clients need $need" >&2
    return 1
  }
}

fresh_pg_db() { # name
  psql "$PG_ADMIN" -q -c "DROP DATABASE IF EXISTS $1" -c "CREATE DATABASE $1" 2>/dev/null
}

drop_pg_db() { psql "$PG_ADMIN" -q -c "DROP DATABASE IF EXISTS $1" 2>/dev/null; }

# Benchmarks drive one tenant as hard as they can: its rate limit would be what they
# measure. And a benchmark's stop needs no drain for a load balancer.
export ROSTER_TENANT_RATE_LIMIT=${ROSTER_TENANT_RATE_LIMIT:-0}
export ROSTER_SHUTDOWN_DRAIN_SECS=${ROSTER_SHUTDOWN_DRAIN_SECS:-0}
# PostgreSQL needs a configured secrets key (one per run: each run starts on fresh databases).
export ROSTER_SECRETS_KEY=${ROSTER_SECRETS_KEY:-$(head -c 32 /dev/urandom | base64)}

# Starts roster on database-url with a tenant "bench"; sets ROSTER_PID and TOKEN.
start_roster() { # label database-url
  ROSTER_DATABASE_URL=$2 $ROSTER tenant create bench >/dev/null
  TOKEN=$(ROSTER_DATABASE_URL=$2 $ROSTER token create bench 2>/dev/null | tail -n 1)
  ROSTER_DATABASE_URL=$2 ROSTER_LISTEN=127.0.0.1:$PORT ROSTER_LOG_LEVEL=warn $ROSTER serve >/dev/null 2>"$OUT/$1.log" &
  ROSTER_PID=$!
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null && return; sleep 0.1; done
  echo "roster did not become ready" >&2; return 1
}

stop_roster() { kill -TERM "$ROSTER_PID"; wait "$ROSTER_PID" || true; }

BASE_URL() { echo "http://127.0.0.1:$PORT/scim/v2/bench"; }
