#!/usr/bin/env bash
# Reproduces the sign-in table of BENCHMARKS.md: applications signing users in through
# roster's OpenID Provider (each sign-in goes upstream to the local oidc-provider, as to
# JumpCloud), at 32 and 256 concurrent clients, on SQLite and PostgreSQL; and the same
# flow against that oidc-provider directly (the peer: an OpenID-certified provider), with
# roster's /healthz as the HTTP floor of the same run. Then the same sign-ins with the
# tenant connected over SAML to the local pysaml2 IdP (tests/saml/idp.py), with the IdP's
# own share (its signed responses alone) timed in the same run as the limit.
#
#   roster-bench/sso.sh [SIGN_INS] [LOOKUPS]     (defaults: 400 5000)
#   BACKENDS=pg CLIENTS="32" roster-bench/sso.sh
set -euo pipefail
failed=0
cd "$(dirname "$0")/.."
SIGN_INS=${1:-400}
LOOKUPS=${2:-5000}
PORT=${BENCH_PORT:-18097}
OUT=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$OUT"' EXIT
source roster-bench/lib.sh
[ -d tests/oidc/node_modules/oidc-provider ] || npm ci --prefix tests/oidc --no-audit --no-fund >/dev/null
[ -x tests/saml/.venv/bin/python ] || { python3 -m venv tests/saml/.venv &&
  tests/saml/.venv/bin/pip install -q -r tests/saml/requirements.txt; }
build
CLIENTS=${CLIENTS:-32 256}
ensure_fds 256

echo "machine: $(nproc) cores, $(uname -srm); sign-ins=$SIGN_INS userinfo calls=$LOOKUPS"
fresh_pg_db roster_bench_sso
for target in "roster-sqlite sqlite://$OUT/roster.db" "roster-pg $PG_BASE/roster_bench_sso"; do
  set -- $target
  case " ${BACKENDS:-sqlite pg} " in *" ${1#roster-} "*) ;; *) continue ;; esac
  start_roster "$1" "$2"
  # The upstream identity provider: roster's client, and the bench's own (the peer run).
  OIDC_TEST_CONFIG=$(printf '{"port":0,"forgePort":0,"clients":[{"client_id":"roster","client_secret":"upstream-secret","redirect_uris":["http://127.0.0.1:%s/oauth/bench/callback"]},{"client_id":"direct","client_secret":"direct-secret","redirect_uris":["http://127.0.0.1:9/direct"]}],"accounts":{"ada":{"email":"ada@bench.example","name":"Ada Bench","groups":["Engineering"]}}}' "$PORT") \
    node tests/oidc/provider.mjs >"$OUT/$1-provider.out" 2>"$OUT/$1-provider.log" &
  PROVIDER_PID=$!
  for _ in $(seq 200); do grep -q '"issuer"' "$OUT/$1-provider.out" && break; sleep 0.1; done
  ISSUER=$(python3 -c 'import json,sys; print(json.loads(open(sys.argv[1]).readline())["issuer"])' "$OUT/$1-provider.out")
  ROSTER_DATABASE_URL=$2 $ROSTER admin oidc set bench --issuer "$ISSUER" --client-id roster \
    --client-secret upstream-secret >/dev/null
  ROSTER_DATABASE_URL=$2 $ROSTER sso settings bench --jit on >/dev/null
  SECRET=$(ROSTER_DATABASE_URL=$2 $ROSTER oauth-client create bench --name bench \
    --redirect-uri http://127.0.0.1:9/app 2>/dev/null | tail -n 1)
  CLIENT=$(ROSTER_DATABASE_URL=$2 $ROSTER oauth-client list bench | awk 'NR == 2 {print $1}')
  ISS=http://127.0.0.1:$PORT/oauth/bench
  for clients in $CLIENTS; do
    $BENCH sso --authorize "$ISS/authorize" --token-url "$ISS/token" --userinfo-url "$ISS/userinfo" \
      --client-id "$CLIENT" --client-secret "$SECRET" --redirect-uri http://127.0.0.1:9/app \
      --account ada --sign-ins "$SIGN_INS" --lookups "$LOOKUPS" --concurrency "$clients" \
      --floor-url "http://127.0.0.1:$PORT/healthz" --label "$1" --json "$OUT/$1-$clients.json" || failed=1
    # The peer: the same flow against the identity provider itself.
    $BENCH sso --authorize "$ISSUER/auth" --token-url "$ISSUER/token" --userinfo-url "$ISSUER/me" \
      --client-id direct --client-secret direct-secret --redirect-uri http://127.0.0.1:9/direct \
      --account ada --sign-ins "$SIGN_INS" --lookups "$LOOKUPS" --concurrency "$clients" \
      --label oidc-provider --json "$OUT/peer-${1#roster-}-$clients.json" || failed=1
  done
  kill "$PROVIDER_PID"; wait "$PROVIDER_PID" 2>/dev/null || true

  # The same sign-ins over SAML: the IdP, roster's connection to it, and the switch.
  SAML_TEST_CONFIG='{"accounts":{"ada@bench.example":{"memberOf":["Engineering"]}}}' \
    tests/saml/.venv/bin/python tests/saml/idp.py >"$OUT/$1-idp.out" 2>"$OUT/$1-idp.log" &
  IDP_PID=$!
  for _ in $(seq 200); do grep -q '"url"' "$OUT/$1-idp.out" && break; sleep 0.1; done
  IDP=$(python3 -c 'import json,sys; print(json.loads(open(sys.argv[1]).readline())["url"])' "$OUT/$1-idp.out")
  KEY=$(ROSTER_DATABASE_URL=$2 $ROSTER api-key create bench --name bench 2>/dev/null | tail -n 1)
  python3 -c 'import json,sys; print(json.dumps({"idp_entity_id":"JumpCloud","sso_url":sys.argv[1]+"/sso","certificates":[open(sys.argv[2]).read()]}))' \
    "$IDP" <(curl -sf "$IDP/cert") |
    curl -sf -X PUT -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' -d @- \
      "http://127.0.0.1:$PORT/api/v1/tenants/bench/saml-connection" >/dev/null
  ROSTER_DATABASE_URL=$2 $ROSTER sso settings bench --connection saml >/dev/null
  for clients in $CLIENTS; do
    $BENCH sso --authorize "$ISS/authorize" --token-url "$ISS/token" --userinfo-url "$ISS/userinfo" \
      --client-id "$CLIENT" --client-secret "$SECRET" --redirect-uri http://127.0.0.1:9/app \
      --account ada@bench.example --sign-ins "$SIGN_INS" --lookups "$LOOKUPS" --concurrency "$clients" \
      --saml-idp --label "$1-saml" --json "$OUT/saml-${1#roster-}-$clients.json" || failed=1
  done
  kill "$IDP_PID"; wait "$IDP_PID" 2>/dev/null || true
  stop_roster
done
drop_pg_db roster_bench_sso

python3 - "$OUT" "$CLIENTS" <<'PY'
import json, sys, pathlib
out, clients = pathlib.Path(sys.argv[1]), sys.argv[2].split()
def rows(name):
    p = out / name
    return {r["phase"]: r for r in json.loads(p.read_text())} if p.exists() else None
print("\n| backend | clients | phase | roster ops/s | p50 / p99 ms | oidc-provider ops/s | p50 / p99 ms | roster / peer | errors |")
print("|---|---|---|---|---|---|---|---|---|")
for backend in ("sqlite", "pg"):
    for c in clients:
        r, p = rows(f"roster-{backend}-{c}.json"), rows(f"peer-{backend}-{c}.json")
        if not r:
            continue
        for phase in ("sign_in_to_code", "token", "userinfo"):
            a, b = r[phase], p[phase]
            print(f"| {backend} | {c} | {phase} | {a['ops_per_sec']:.0f} | {a['p50_ms']:.1f} / {a['p99_ms']:.1f} | "
                  f"{b['ops_per_sec']:.0f} | {b['p50_ms']:.1f} / {b['p99_ms']:.1f} | {a['ops_per_sec'] / b['ops_per_sec']:.2f}× | {a['errors']} |")
        s = rows(f"saml-{backend}-{c}.json")
        if s:
            a, b = s["sign_in_to_code"], s["saml_idp_response"]
            print(f"| {backend} | {c} | sign_in_to_code over SAML | {a['ops_per_sec']:.0f} | {a['p50_ms']:.1f} / {a['p99_ms']:.1f} | "
                  f"IdP alone: {b['ops_per_sec']:.0f} | {b['p50_ms']:.1f} / {b['p99_ms']:.1f} | {a['ops_per_sec'] / b['ops_per_sec']:.2f}× the IdP | {a['errors']} |")
        f = r["http_floor"]
        print(f"| {backend} | {c} | HTTP floor (/healthz) | {f['ops_per_sec']:.0f} | {f['p50_ms']:.1f} / {f['p99_ms']:.1f} | | | userinfo at {r['userinfo']['ops_per_sec'] / f['ops_per_sec']:.2f}× the floor | {f['errors']} |")
PY
# A phase with errors still gets its row above; the exit status says it had them.
exit "${failed:-0}"
