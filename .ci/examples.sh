#!/usr/bin/env bash
# Runs the consumer examples (examples/python, examples/typescript) against a real roster on
# SQLite and, when PG_URL names a PostgreSQL server where we may create databases, on a
# throwaway database there too. It installs their dependencies from the registries, sets up
# a tenant, a SCIM token and API keys with the roster CLI, registers each example's webhook
# endpoint, drives roster over SCIM and the application API, and checks what each example
# answers: its "may" answers before and after each change, that it received and verified
# webhooks, that forged, tampered and stale messages get 4xx, that a restart resumes
# from the stored cursor without applying an event twice or skipping one, that a fresh start
# bootstraps from /snapshot (knowing users without reading their events), and that a 410
# from /events (events pruned here by deleting them in the database) makes it bootstrap again.
# It builds nothing: ROSTER_BIN (default target/debug/roster) must exist.
set -Eeuo pipefail
cd "$(dirname "$0")/.."
started=$SECONDS

ROSTER_BIN=${ROSTER_BIN:-target/debug/roster}
[ -x "$ROSTER_BIN" ] || { echo "examples: no roster binary at $ROSTER_BIN (cargo build, or set ROSTER_BIN)" >&2; exit 1; }
ROSTER_BIN=$(realpath "$ROSTER_BIN")
APPS=(python typescript)
TENANT=acme
WORK=$(mktemp -d)
PIDS=()
PG_DB=
BACKEND=setup

cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  PIDS=()
  if [ -n "$PG_DB" ]; then
    psql "$PG_URL" -q -c "DROP DATABASE IF EXISTS $PG_DB WITH (FORCE)" >/dev/null 2>&1 || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Stops one process this script started, and forgets it (its id may be reused afterwards).
stop() {
  local pid=$1 others=() p
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  for p in "${PIDS[@]}"; do [ "$p" = "$pid" ] || others+=("$p"); done
  PIDS=("${others[@]}")
}

# Says what failed and shows the end of every log, once (a failure inside $(…) reaches the
# caller as a failed command too).
fail() {
  [ -e "$WORK/failed" ] && exit 1
  : >"$WORK/failed"
  echo "examples: FAIL ($BACKEND): $*" >&2
  local log
  for log in "$WORK"/*.log; do
    [ -e "$log" ] || continue
    echo "---- last lines of $(basename "$log")" >&2
    tail -n 25 "$log" >&2
  done
  exit 1
}
trap 'fail "line $LINENO: $BASH_COMMAND"' ERR

# ---- dependencies, from the registries ------------------------------------------------------
command -v jq >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq jq >/dev/null; }
python3 -m venv "$WORK/venv"
"$WORK/venv/bin/pip" install -q --disable-pip-version-check -r examples/python/requirements.txt
npm ci --prefix examples/typescript --no-audit --no-fund --loglevel=error >/dev/null
npm run --prefix examples/typescript --silent build

# ---- helpers --------------------------------------------------------------------------------
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# call METHOD URL CREDENTIAL [BODY [CONTENT-TYPE]]: prints the body; fails unless 2xx.
call() {
  local method=$1 url=$2 credential=$3 body=${4-} type=${5:-application/json} out status
  local args=(-sS -X "$method" -H "Authorization: Bearer $credential" -w '\n%{http_code}')
  [ -z "$body" ] || args+=(-H "Content-Type: $type" --data "$body")
  out=$(curl "${args[@]}" "$url") || fail "$method $url: curl failed"
  status=${out##*$'\n'}
  out=${out%$'\n'*}
  [[ $status == 2* ]] || fail "$method $url: HTTP $status $out"
  printf '%s' "$out"
}
scim() { call "$1" "$ROSTER_URL/scim/v2/$TENANT/$2" "$SCIM_TOKEN" "${3-}" application/scim+json; }
api() { call "$1" "$ROSTER_URL/api/v1/tenants/$TENANT/$2" "$ADMIN_KEY" "${3-}"; }

create_user() {
  local body
  body=$(scim POST Users "{\"schemas\":[\"urn:ietf:params:scim:schemas:core:2.0:User\"],\"userName\":\"$1\",\"active\":true}")
  jq -r .id <<<"$body"
}
patch() { # patch Users/ID OPERATION-JSON
  scim PATCH "$1" "{\"schemas\":[\"urn:ietf:params:scim:api:messages:2.0:PatchOp\"],\"Operations\":[$2]}" >/dev/null
}

# The feed's last sequence, as roster has it (the snapshot's sequence: reading the feed
# from 0 would get 410 once events are pruned).
feed_head() { api GET "snapshot?limit=1" | jq .sequence; }

# expect_bootstrap APP REASON SEQUENCE: the example bootstrapped once since its start, for
# REASON, from the snapshot at SEQUENCE, and has applied no event since.
expect_bootstrap() {
  local status
  status=$(status_of "$1")
  jq -e --arg reason "$2" --argjson seq "$3" '.bootstraps_since_start == 1 and .last_bootstrap == $reason
    and .snapshot_sequence == $seq and .cursor == $seq and .applied_since_start == 0' <<<"$status" >/dev/null \
    || fail "$1: expected one bootstrap ($2) from the snapshot at $3 and no event applied: $status"
  grep -q "bootstrapped from the snapshot at sequence $3 (.*; $2)" "$WORK/$BACKEND-$1.log" \
    || fail "$1 did not log its bootstrap at sequence $3 ($2)"
}

# prune_through SEQUENCE: deletes the tenant's events up to SEQUENCE, as retention would.
prune_through() {
  local sql="DELETE FROM events WHERE sequence <= $1 AND tenant_id = (SELECT id FROM tenants WHERE slug = '$TENANT')"
  case $BACKEND in
    sqlite) python3 -c 'import sqlite3, sys
db = sqlite3.connect(sys.argv[1], timeout=10)
with db: print(db.execute(sys.argv[2]).rowcount)' "${ROSTER_DATABASE_URL#sqlite://}" "$sql" ;;
    *) psql "$ROSTER_DATABASE_URL" -At -c "$sql" | sed 's/^DELETE //' ;;
  esac
}

app_url() { echo "http://127.0.0.1:${PORT[$1]}"; }
status_of() { curl -sS --max-time 5 "$(app_url "$1")/status"; }

start_app() {
  local app=$1 command
  case $app in
    python) command=("$WORK/venv/bin/python" examples/python/app.py serve) ;;
    typescript) command=(node examples/typescript/dist/app.js serve) ;;
  esac
  # POLL_SECONDS is long on purpose: within this run only a webhook (or the start) makes the
  # example read the feed, so an answer that changes in time proves the wake-up works.
  ROSTER_URL=$ROSTER_URL ROSTER_TENANT=$TENANT ROSTER_API_KEY=${KEY[$app]} \
    ROSTER_WEBHOOK_SECRET=${SECRET[$app]} LISTEN=127.0.0.1:${PORT[$app]} POLL_SECONDS=600 \
    STATE_DB="$WORK/$BACKEND-python.db" STATE_FILE="$WORK/$BACKEND-typescript.json" \
    "${command[@]}" >>"$WORK/$BACKEND-$app.log" 2>&1 &
  PID[$app]=$!
  PIDS+=("$!")
  for _ in $(seq 100); do
    status_of "$app" >/dev/null 2>&1 && return 0
    kill -0 "${PID[$app]}" 2>/dev/null || fail "$app exited at start"
    sleep 0.1
  done
  fail "$app did not answer /status within 10 s"
}

stop_app() { stop "${PID[$1]}"; }

# Waits until the example has applied the feed up to roster's head (20 s at most).
wait_synced() {
  local app=$1 head cursor
  head=$(feed_head)
  for _ in $(seq 200); do
    cursor=$(status_of "$app" | jq .cursor) || cursor=unreachable
    [ "$cursor" = "$head" ] && return 0
    sleep 0.1
  done
  fail "$app: cursor $cursor, roster's feed is at $head (no webhook woke it?)"
}

# expect_may APP USER ACTION true|false [local|roster]
expect_may() {
  local app=$1 user=$2 action=$3 want=$4 source=${5-} answer
  answer=$(curl -sS --max-time 10 -G --data-urlencode "user=$user" --data-urlencode "action=$action" \
    "$(app_url "$app")/may") || fail "$app: GET /may failed"
  [ "$(jq -r .allowed <<<"$answer")" = "$want" ] \
    || fail "$app: may($user, $action) answered $answer, expected allowed=$want"
  [ -z "$source" ] || [ "$(jq -r .source <<<"$answer")" = "$source" ] \
    || fail "$app: may($user, $action) answered $answer, expected source=$source"
}

# The Standard Webhooks signature, computed here independently of the examples' library.
sign() { # SECRET ID TIMESTAMP BODY
  python3 - "$@" <<'EOF'
import base64, hashlib, hmac, sys
secret, msg_id, timestamp, body = sys.argv[1:]
key = base64.b64decode(secret.removeprefix("whsec_"))
mac = hmac.new(key, f"{msg_id}.{timestamp}.{body}".encode(), hashlib.sha256).digest()
print("v1," + base64.b64encode(mac).decode())
EOF
}

post_webhook() { # APP ID TIMESTAMP SIGNATURE BODY: prints the HTTP status
  curl -sS --max-time 5 -o /dev/null -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
    ${2:+-H "webhook-id: $2"} ${3:+-H "webhook-timestamp: $3"} ${4:+-H "webhook-signature: $4"} \
    --data "$5" "$(app_url "$1")/webhooks/roster"
}

# ---- one backend ----------------------------------------------------------------------------
run_backend() {
  BACKEND=$1
  local database_url=$2 app
  export ROSTER_DATABASE_URL=$database_url
  # PostgreSQL needs a configured secrets key (SQLite would make its own file).
  ROSTER_SECRETS_KEY=$(head -c 32 /dev/urandom | base64)
  export ROSTER_SECRETS_KEY
  declare -gA PORT=() KEY=() SECRET=() PID=() WEBHOOK=()

  # Credentials, with the CLI: a SCIM token for the "IdP", an admin key to set roster up,
  # and for each example a key that can only read the feed and roles.
  "$ROSTER_BIN" tenant create "$TENANT" --name "Acme Inc" >>"$WORK/$BACKEND-cli.log" 2>&1
  SCIM_TOKEN=$("$ROSTER_BIN" token create "$TENANT" --name idp 2>>"$WORK/$BACKEND-cli.log" | tail -n 1)
  ADMIN_KEY=$("$ROSTER_BIN" api-key create "$TENANT" --name setup --scope admin 2>>"$WORK/$BACKEND-cli.log" | tail -n 1)
  for app in "${APPS[@]}"; do
    KEY[$app]=$("$ROSTER_BIN" api-key create "$TENANT" --name "$app-example" \
      --scope events:read --scope roles:read 2>>"$WORK/$BACKEND-cli.log" | tail -n 1)
  done

  ROSTER_LISTEN=127.0.0.1:0 ROSTER_LOG_FORMAT=json ROSTER_ALLOW_PRIVATE_WEBHOOK_URLS=true \
    ROSTER_SHUTDOWN_DRAIN_SECS=0 "$ROSTER_BIN" serve >"$WORK/$BACKEND-roster.log" 2>&1 &
  local roster_pid=$!
  PIDS+=("$roster_pid")
  ROSTER_URL=
  for _ in $(seq 150); do
    ROSTER_URL=$(grep -o '"url":"http://[^"]*"' "$WORK/$BACKEND-roster.log" | head -n 1 | cut -d'"' -f4 || true)
    [ -n "$ROSTER_URL" ] && break
    kill -0 "$roster_pid" 2>/dev/null || fail "roster exited at start"
    sleep 0.1
  done
  [ -n "$ROSTER_URL" ] || fail "roster did not start within 15 s"

  # The application's roles, a default role, and one webhook endpoint per example.
  api POST roles '{"slug":"admin","name":"Admin","priority":10}' >/dev/null
  api POST roles '{"slug":"editor","name":"Editor","priority":20}' >/dev/null
  api POST roles '{"slug":"viewer","name":"Viewer","priority":30}' >/dev/null
  api PUT role-settings '{"default_role":"viewer"}' >/dev/null
  local endpoint
  for app in "${APPS[@]}"; do
    PORT[$app]=$(free_port)
    endpoint=$(api POST webhooks "{\"url\":\"http://127.0.0.1:${PORT[$app]}/webhooks/roster\",\"description\":\"$app example\"}")
    SECRET[$app]=$(jq -r .secret <<<"$endpoint")
    WEBHOOK[$app]=$(jq -r .id <<<"$endpoint")
  done
  for app in "${APPS[@]}"; do start_app "$app"; done
  local first_head
  first_head=$(feed_head)
  for app in "${APPS[@]}"; do
    wait_synced "$app"
    expect_bootstrap "$app" "no stored cursor" "$first_head"
    # Nobody is provisioned yet: the example does not know alice, roster says 404.
    expect_may "$app" alice@example.com docs:read false roster
  done

  # The IdP pushes users and a group; the application maps the group to a role.
  local alice bob engineering
  alice=$(create_user alice@example.com)
  bob=$(create_user bob@example.com)
  engineering=$(scim POST Groups '{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"Engineering"}' | jq -r .id)
  for app in "${APPS[@]}"; do
    wait_synced "$app"
    expect_may "$app" ALICE@example.com docs:read true local # the default role; userName in any case
    expect_may "$app" alice@example.com docs:edit false local
  done
  api POST mappings "{\"group\":\"$engineering\",\"role\":\"editor\"}" >/dev/null
  patch "Groups/$engineering" "{\"op\":\"add\",\"path\":\"members\",\"value\":[{\"value\":\"$alice\"}]}"
  for app in "${APPS[@]}"; do
    wait_synced "$app"
    expect_may "$app" alice@example.com docs:edit true local
    expect_may "$app" alice@example.com docs:delete false local
    expect_may "$app" bob@example.com docs:read true local
    expect_may "$app" bob@example.com docs:edit false local
  done

  # Webhooks arrived and were verified; forged, tampered, stale and unsigned ones get 4xx.
  local status body now id signature code rejected_before rejected_after
  for app in "${APPS[@]}"; do
    for _ in $(seq 50); do
      status=$(status_of "$app")
      jq -e '.webhooks_verified > 0 and (.webhook_types | index("user.roles_changed"))' <<<"$status" >/dev/null && break
      sleep 0.1
    done
    jq -e '.webhooks_verified > 0 and (.webhook_types | index("user.roles_changed"))' <<<"$status" >/dev/null \
      || fail "$app verified no user.roles_changed webhook: $status"
    api POST "webhooks/${WEBHOOK[$app]}/test" >/dev/null
    for _ in $(seq 50); do
      status=$(status_of "$app")
      jq -e '.webhook_types | index("webhook.test")' <<<"$status" >/dev/null && break
      sleep 0.1
    done
    jq -e '.webhook_types | index("webhook.test")' <<<"$status" >/dev/null || fail "$app: roster's test message did not arrive: $status"

    rejected_before=$(jq .webhooks_rejected <<<"$status")
    body='{"type":"webhook.test","data":{}}'
    now=$(date +%s)
    id=msg_check_$RANDOM
    signature=$(sign "${SECRET[$app]}" "$id" "$now" "$body")
    code=$(post_webhook "$app" "$id" "$now" "$signature" "$body")
    [[ $code == 2* ]] || fail "$app refused a correctly signed message: HTTP $code"
    code=$(post_webhook "$app" "$id" "$now" "$signature" '{"type":"webhook.test","data":{"x":1}}')
    [[ $code == 4* ]] || fail "$app accepted a tampered body: HTTP $code"
    code=$(post_webhook "$app" "$id" "$now" "$(sign whsec_Zm9yZ2VkLWtleS1mb3JnZWQta2V5LWZvcmdlZC1rZXk= "$id" "$now" "$body")" "$body")
    [[ $code == 4* ]] || fail "$app accepted a signature made with another key: HTTP $code"
    code=$(post_webhook "$app" "$id" $((now - 600)) "$(sign "${SECRET[$app]}" "$id" $((now - 600)) "$body")" "$body")
    [[ $code == 4* ]] || fail "$app accepted a message signed 10 minutes ago: HTTP $code"
    code=$(post_webhook "$app" "" "" "" "$body")
    [[ $code == 4* ]] || fail "$app accepted an unsigned message: HTTP $code"
    rejected_after=$(status_of "$app" | jq .webhooks_rejected)
    [ "$rejected_after" -eq $((rejected_before + 4)) ] \
      || fail "$app counted $((rejected_after - rejected_before)) rejected webhooks, expected 4"
  done

  # A restart resumes from the stored cursor: changes made while the examples were down are
  # applied once, and nothing before them again.
  local cursor_before applied head
  cursor_before=$(feed_head)
  for app in "${APPS[@]}"; do
    [ "$(status_of "$app" | jq '.snapshot_sequence + .applied_total')" = "$cursor_before" ] \
      || fail "$app: snapshot_sequence + applied_total is not $cursor_before: $(status_of "$app")"
    stop_app "$app"
  done
  patch "Users/$alice" '{"op":"replace","value":{"active":false}}'
  patch "Groups/$engineering" "{\"op\":\"add\",\"path\":\"members\",\"value\":[{\"value\":\"$bob\"}]}"
  head=$(feed_head)
  [ "$head" -gt "$cursor_before" ] || fail "the changes made while the examples were down wrote no event"
  for app in "${APPS[@]}"; do
    start_app "$app"
    wait_synced "$app"
    status=$(status_of "$app")
    applied=$(jq .applied_since_start <<<"$status")
    [ "$applied" -eq $((head - cursor_before)) ] \
      || fail "$app applied $applied events after its restart, expected $((head - cursor_before)): $status"
    [ "$(jq '.snapshot_sequence + .applied_total' <<<"$status")" = "$head" ] \
      || fail "$app: snapshot_sequence + applied_total is not $head: $status"
    grep -q "resuming the feed after sequence $cursor_before" "$WORK/$BACKEND-$app.log" \
      || fail "$app did not say it resumed after sequence $cursor_before"
    expect_may "$app" alice@example.com docs:read false local # deactivated: no roles at all
    expect_may "$app" bob@example.com docs:edit true local
  done

  # The command line answers from the stored state, and asks roster for a user it does not
  # know (here: with a fresh, empty state).
  local answer suffix want_source cli
  for app in "${APPS[@]}"; do
    case $app in
      python) cli=("$WORK/venv/bin/python" examples/python/app.py may) ;;
      typescript) cli=(node examples/typescript/dist/app.js may) ;;
    esac
    for suffix in "" -fresh; do
      if [ -z "$suffix" ]; then want_source=local; else want_source=roster; fi
      answer=$(ROSTER_URL=$ROSTER_URL ROSTER_TENANT=$TENANT ROSTER_API_KEY=${KEY[$app]} \
        STATE_DB="$WORK/$BACKEND-python$suffix.db" STATE_FILE="$WORK/$BACKEND-typescript$suffix.json" \
        "${cli[@]}" bob@example.com docs:edit 2>>"$WORK/$BACKEND-$app.log") \
        || fail "$app CLI (state$suffix): may(bob, docs:edit) exited non-zero: $answer"
      [ "$(jq -r '"\(.allowed) \(.source)"' <<<"$answer")" = "true $want_source" ] \
        || fail "$app CLI (state$suffix): $answer, expected allowed from $want_source"
      if answer=$(ROSTER_URL=$ROSTER_URL ROSTER_TENANT=$TENANT ROSTER_API_KEY=${KEY[$app]} \
        STATE_DB="$WORK/$BACKEND-python$suffix.db" STATE_FILE="$WORK/$BACKEND-typescript$suffix.json" \
        "${cli[@]}" alice@example.com docs:read 2>>"$WORK/$BACKEND-$app.log"); then
        fail "$app CLI (state$suffix): may(alice, docs:read) exited 0: $answer"
      fi
      [ "$(jq -r '"\(.allowed) \(.source)"' <<<"$answer")" = "false $want_source" ] \
        || fail "$app CLI (state$suffix): $answer, expected refused from $want_source"
    done
  done

  # A deleted user is gone from the local table; roster no longer knows them either.
  scim DELETE "Users/$bob" >/dev/null
  for app in "${APPS[@]}"; do
    wait_synced "$app"
    expect_may "$app" bob@example.com docs:read false roster
    stop_app "$app"
  done

  # A fresh start (no stored state) after users and roles exist bootstraps from /snapshot:
  # it knows carol's mapped role without having applied a single event.
  local carol
  carol=$(create_user carol@example.com)
  patch "Groups/$engineering" "{\"op\":\"add\",\"path\":\"members\",\"value\":[{\"value\":\"$carol\"}]}"
  rm -f "$WORK/$BACKEND-python.db"* "$WORK/$BACKEND-typescript.json"
  head=$(feed_head)
  for app in "${APPS[@]}"; do
    start_app "$app"
    wait_synced "$app"
    expect_bootstrap "$app" "no stored cursor" "$head"
    expect_may "$app" carol@example.com docs:edit true local
    expect_may "$app" alice@example.com docs:read false local
    stop_app "$app"
  done

  # Events after the stored cursor are pruned while the examples are down: /events answers
  # 410, and they bootstrap again, replacing their state (carol's deletion, whose events are
  # gone, still removes her; dave, whose user.created is gone, is known).
  cursor_before=$head
  create_user dave@example.com >/dev/null
  scim DELETE "Users/$carol" >/dev/null
  head=$(feed_head)
  [ "$(prune_through $((head - 1)))" -gt 0 ] || fail "pruning deleted no event"
  for app in "${APPS[@]}"; do
    start_app "$app"
    wait_synced "$app"
    expect_bootstrap "$app" "410 Gone after sequence $cursor_before" "$head"
    expect_may "$app" carol@example.com docs:read false roster
    expect_may "$app" dave@example.com docs:read true local
    stop_app "$app"
  done

  stop "$roster_pid"
  unset ROSTER_DATABASE_URL
}

BACKENDS=sqlite
run_backend sqlite "sqlite://$WORK/roster.db"
if [ -n "${PG_URL:-}" ]; then
  PG_DB=roster_examples_$$
  BACKEND=postgresql
  psql "$PG_URL" -q -c "CREATE DATABASE $PG_DB" >/dev/null
  run_backend postgresql "${PG_URL%/*}/$PG_DB"
  BACKENDS="sqlite, postgresql"
fi
summary=""
for app in "${APPS[@]}"; do summary+="${summary:+, }$app ok"; done
echo "examples: $summary ($BACKENDS) in $((SECONDS - started)) s"
