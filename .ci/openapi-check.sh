#!/usr/bin/env bash
# Checks the application API's OpenAPI document, as a running roster serves it, with an
# independent validator (openapi-spec-validator, PyPI; OpenAPI 3.0 and 3.1).
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${OPENAPI_VALIDATOR_VENV:-target/openapi-venv}
if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
fi
"$VENV/bin/pip" install -q --disable-pip-version-check -r .ci/requirements-openapi.txt

cargo build -q --bin roster
WORK=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$WORK"' EXIT
ROSTER_DATABASE_URL="sqlite://$WORK/roster.db" ROSTER_LISTEN=127.0.0.1:0 ROSTER_LOG_FORMAT=json \
  ROSTER_SHUTDOWN_DRAIN_SECS=0 target/debug/roster serve >"$WORK/out" 2>"$WORK/log" &
url=
for _ in $(seq 100); do
  url=$(grep -o '"url":"http://[^"]*"' "$WORK/log" | head -n 1 | cut -d'"' -f4 || true)
  [ -n "$url" ] && break
  sleep 0.1
done
[ -n "$url" ] || { cat "$WORK/log"; exit 1; }
curl -sf "$url/api/v1/openapi.json" -o "$WORK/openapi.json"
"$VENV/bin/openapi-spec-validator" "$WORK/openapi.json"
