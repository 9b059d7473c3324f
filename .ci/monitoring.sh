#!/usr/bin/env bash
# Checks deploy/monitoring/ (README "Monitor"):
#  - `promtool check rules` on the alert rules, and `promtool test rules` on their unit
#    tests (alerts fire on synthetic failing series, and stay quiet on healthy ones);
#  - .ci/monitoring.py: the rules' conventions, the Grafana dashboard (JSON, variables,
#    layout, every query valid PromQL through promtool), and every metric name the rules,
#    tests and dashboard use against roster's metric list; when ROSTER_METRICS_SAMPLE
#    names a file holding a real /metrics scrape, against that scrape too (mandatory then).
# promtool comes from Debian's `prometheus` package, unpacked into target/promtool/ and
# not installed: installing it would add a system user, enable a service, pull a dozen
# JavaScript packages, and (its postinst runs invoke-rc.d) start a Prometheus daemon on a
# machine without systemd or policy-rc.d. The same promtool everywhere, so the unit
# tests' rendered values hold; $PROMTOOL overrides it.
# Ends with one summary line. Idempotent; run from anywhere, as root.
set -euo pipefail
cd "$(dirname "$0")/.."
started=$SECONDS
PY=/usr/bin/python3 # Debian's, with python3-yaml
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
chmod 755 "$work" # apt downloads as its sandbox user, who must reach it

apt_install() {
  local missing=()
  for pkg in "$@"; do dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg"); done
  if [ ${#missing[@]} -gt 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      "${missing[@]}" >/dev/null
  fi
}

if [ -n "${PROMTOOL:-}" ] && [ ! -x "$PROMTOOL" ]; then
  echo "monitoring: PROMTOOL=$PROMTOOL is not an executable"
  exit 1
fi
promtool=${PROMTOOL:-target/promtool/promtool}
if [ ! -x "$promtool" ]; then
  apt-cache policy prometheus 2>/dev/null | grep -q 'Candidate: [0-9]' || apt-get update -qq
  mkdir "$work/deb"
  chown _apt "$work/deb" 2>/dev/null || true
  (cd "$work/deb" && apt-get download -qq prometheus)
  dpkg-deb --fsys-tarfile "$work"/deb/prometheus_*.deb | tar -x -C "$work" ./usr/bin/promtool
  mkdir -p "$(dirname "$promtool")"
  mv "$work/usr/bin/promtool" "$promtool"
fi
version=$("$promtool" --version 2>&1 | head -n 1 | awk '{print $3}')

"$PY" -c 'import yaml' 2>/dev/null || apt_install python3 python3-yaml

log=$work/log
if ! "$promtool" check rules deploy/monitoring/roster-alerts.yaml >"$log" 2>&1; then
  cat "$log"
  echo "monitoring: promtool check rules failed"
  exit 1
fi
if ! "$promtool" test rules deploy/monitoring/roster-alerts.test.yaml >"$log" 2>&1; then
  cat "$log"
  echo "monitoring: promtool test rules failed"
  exit 1
fi
if ! "$PY" .ci/monitoring.py "$promtool" >"$log" 2>&1; then
  cat "$log"
  exit 1
fi
grep '^note: ' "$log" || true
echo "monitoring (promtool $version): $(grep -v '^note: ' "$log" | tail -n 1) ($((SECONDS - started)) s)"
