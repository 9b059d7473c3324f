#!/usr/bin/python3
"""Helpers of .ci/packaging.sh: read the Dockerfile, compose.yaml, the systemd unit and
.dockerignore, so that the checks use what those files say instead of a copy of it.

  dockerfile FILE            prints shell assignments (the runtime stage's ENV,
                             HEALTHCHECK, binary path, user, ...) for `eval`
  rust-version FILE          reads `cargo metadata` on stdin: the builder image's Rust
                             must be at least every locked package's rust-version
  compose FILE               checks services, healthcheck, depends_on, no secrets
  unit UNIT ENVFILE          checks the unit's sandbox and stop timeout, and prints
                             shell assignments: ExecStart, the state directory, and
                             the environment (Environment=, then the env file's, which
                             wins as with EnvironmentFile=)
  context SRC DST            copies SRC's git-tracked files into DST as a Docker build
                             context, leaving out what .dockerignore excludes
  sandbox ROOT UID GID WD UNIT -- ARGV...
                             chroot ROOT, cd WD, drop to UID:GID, then apply the unit's
                             UMask, NoNewPrivileges, SystemCallFilter (+ErrorNumber),
                             RestrictAddressFamilies and MemoryDenyWriteExecute the way
                             systemd 252 does (seccomp), and exec ARGV
"""

import fnmatch
import json
import os
import re
import shlex
import shutil
import subprocess
import sys

EXPECTED_BUILD = "cargo build --release --locked --bin roster"


def die(msg):
    print(f"packaging.py: {msg}", file=sys.stderr)
    sys.exit(1)


# ---------------------------------------------------------------- Dockerfile


def dockerfile_instructions(path):
    """(instruction, arguments) in order; continuation lines joined, comments dropped."""
    out, buf = [], ""
    for raw in open(path, encoding="utf-8"):
        line = raw.rstrip("\n")
        if not buf and (line.strip() == "" or line.lstrip().startswith("#")):
            continue
        if buf and line.lstrip().startswith("#"):
            continue  # a comment inside a continued instruction
        if line.rstrip().endswith("\\"):
            buf += line.rstrip()[:-1] + " "
            continue
        buf += line
        word, _, rest = buf.strip().partition(" ")
        out.append((word.upper(), rest.strip()))
        buf = ""
    if buf:
        die(f"{path}: ends inside a continued line")
    return out


def stages(instructions):
    result = []
    for word, args in instructions:
        if word == "FROM":
            parts = args.split()
            name = parts[2] if len(parts) == 3 and parts[1].upper() == "AS" else None
            result.append({"image": parts[0], "name": name, "body": []})
        elif result:
            result[-1]["body"].append((word, args))
    return result


def parse_env(args):
    words = shlex.split(args)
    if words and "=" not in words[0]:  # legacy `ENV KEY value`
        return [(words[0], " ".join(words[1:]))]
    pairs = []
    for w in words:
        key, sep, value = w.partition("=")
        if not sep:
            die(f"ENV: cannot read {w!r}")
        pairs.append((key, value))
    return pairs


def exec_form(args, what):
    try:
        argv = json.loads(args)
    except json.JSONDecodeError:
        die(f"{what} must be in exec form (a JSON array): {args}")
    if not (isinstance(argv, list) and all(isinstance(a, str) for a in argv)):
        die(f"{what} must be a JSON array of strings")
    return argv


def cmd_dockerfile(path):
    st = stages(dockerfile_instructions(path))
    if len(st) != 2:
        die(f"{path}: expected two stages (builder, runtime), found {len(st)}")
    builder, runtime = st
    if builder["name"] is None:
        die("the builder stage has no name")
    if not re.fullmatch(r"rust:\d+\.\d+\.\d+-slim-bookworm", builder["image"]):
        die(f"builder image {builder['image']} is not a pinned rust:X.Y.Z-slim-bookworm")
    if not re.fullmatch(r"debian:12\.\d+-slim", runtime["image"]):
        die(f"runtime image {runtime['image']} is not a pinned debian:12.N-slim")

    # The builder's cargo command, and where it puts the binary for the runtime stage.
    build_cmd, handoff = None, None
    for word, args in builder["body"]:
        if word != "RUN":
            continue
        m = re.search(r"(cargo build[^&;|]*?)\s*(&&|;|$)", args)
        if m:
            build_cmd = m.group(1).strip()
            inst = re.search(r"install\s+(?:-\S+\s+(?:\d+\s+)?)*(\S+)\s+(\S+)", args)
            if inst:
                handoff = (inst.group(1), inst.group(2))
    if build_cmd != EXPECTED_BUILD:
        die(f"the builder runs {build_cmd!r}, expected {EXPECTED_BUILD!r}")
    if handoff is None:
        die("the builder does not install the binary for the runtime stage")

    env, healthcheck, user, workdir, expose, volumes = [], None, None, "/", [], []
    binary, entrypoint, cmd, stopsignal = None, None, None, None
    for word, args in runtime["body"]:
        if word == "ENV":
            env += parse_env(args)
        elif word == "HEALTHCHECK":
            m = re.fullmatch(r"((?:--\S+=\S+\s+)*)CMD\s+(.*)", args, re.S)
            if not m:
                die(f"HEALTHCHECK: cannot read {args}")
            healthcheck = exec_form(m.group(2), "HEALTHCHECK CMD")
        elif word == "USER":
            user = args
        elif word == "WORKDIR":
            workdir = args
        elif word == "EXPOSE":
            expose += args.split()
        elif word == "VOLUME":
            volumes += exec_form(args, "VOLUME")
        elif word == "COPY" and args.startswith("--from=" + builder["name"] + " "):
            src, dst = args.split()[1:3]
            if src != handoff[1]:
                die(f"COPY --from={builder['name']} takes {src}, the builder installs {handoff[1]}")
            binary = dst
        elif word == "ENTRYPOINT":
            entrypoint = exec_form(args, "ENTRYPOINT")
        elif word == "CMD":
            cmd = exec_form(args, "CMD")
        elif word == "STOPSIGNAL":
            stopsignal = args
    if healthcheck is None:
        die("the runtime stage has no HEALTHCHECK")
    if binary is None or entrypoint != [binary] or cmd != ["serve"]:
        die(f"expected ENTRYPOINT [{binary!r}] and CMD ['serve'], got {entrypoint} {cmd}")
    if user is None or not re.fullmatch(r"[1-9]\d*:[1-9]\d*", user):
        die(f"the runtime stage must run as a numeric non-root USER uid:gid, not {user}")
    if stopsignal != "SIGTERM":
        die("STOPSIGNAL must be SIGTERM (roster drains on SIGTERM only)")
    envd = dict(env)
    listen = envd.get("ROSTER_LISTEN", "")
    if not expose or listen.rsplit(":", 1)[-1] != expose[0].split("/")[0]:
        die(f"EXPOSE {expose} does not match ROSTER_LISTEN={listen}")
    db = envd.get("ROSTER_DATABASE_URL", "")
    if not db.startswith("sqlite:///") or os.path.dirname(db[len("sqlite://"):]) not in volumes:
        die(f"ROSTER_DATABASE_URL={db} is not an SQLite file in a VOLUME {volumes}")
    unknown = [k for k, _ in env if not k.startswith("ROSTER_")]
    if unknown:
        die(f"the runtime stage sets non-roster variables {unknown}")

    q = shlex.quote
    print(f"BUILDER_IMAGE={q(builder['image'])}")
    print(f"RUNTIME_IMAGE={q(runtime['image'])}")
    print(f"BUILD_CMD={q(build_cmd)}")
    print(f"BIN_SRC={q(handoff[0])}")
    print(f"BIN_DST={q(binary)}")
    print(f"RUN_UID={q(user.split(':')[0])}")
    print(f"RUN_GID={q(user.split(':')[1])}")
    print(f"WORKDIR={q(workdir)}")
    print(f"DATA_DIR={q(volumes[0])}")
    print("IMAGE_ENV=(" + " ".join(q(f"{k}={v}") for k, v in env) + ")")
    print("HEALTHCHECK=(" + " ".join(q(a) for a in healthcheck) + ")")


def cmd_rust_version(path):
    image = stages(dockerfile_instructions(path))[0]["image"]
    have = tuple(int(x) for x in re.search(r"rust:(\d+\.\d+\.\d+)", image).group(1).split("."))
    meta = json.load(sys.stdin)
    used = {p["id"] for p in meta["packages"]}
    if meta.get("resolve"):
        used = {n["id"] for n in meta["resolve"]["nodes"]}
    need, who = (0, 0, 0), "nothing"
    for p in meta["packages"]:
        rv = p.get("rust_version")
        if p["id"] in used and rv:
            v = tuple(int(x) for x in (rv.split(".") + ["0", "0"])[:3])
            if v > need:
                need, who = v, f"{p['name']} {p['version']}"
    if have < need:
        die(f"{image} is older than Rust {'.'.join(map(str, need))}, which {who} needs")
    print(f"{image}: Rust {'.'.join(map(str, have))} >= {'.'.join(map(str, need))} ({who})")


# ---------------------------------------------------------------- compose.yaml


def cmd_compose(path):
    import yaml

    doc = yaml.safe_load(open(path, encoding="utf-8"))
    services = doc.get("services") or {}
    if set(services) != {"roster", "postgres"}:
        die(f"expected services roster and postgres, found {sorted(services)}")
    pg, ro = services["postgres"], services["roster"]
    if not str(pg.get("image", "")).startswith("postgres:16"):
        die("postgres must be the postgres:16 image")
    if "pg_isready" not in " ".join(pg.get("healthcheck", {}).get("test", [])):
        die("postgres needs a pg_isready healthcheck")
    dep = (ro.get("depends_on") or {}).get("postgres") or {}
    if dep.get("condition") != "service_healthy":
        die("roster must depend on postgres with condition: service_healthy")
    if ro.get("build") not in (".", {"context": "."}):
        die("roster must build this repository's Dockerfile")
    env = ro.get("environment") or {}
    if not str(env.get("ROSTER_DATABASE_URL", "")).startswith("postgres://"):
        die("roster's ROSTER_DATABASE_URL must be a postgres:// URL")
    if "ROSTER_PUBLIC_URL" not in env:
        die("roster must set ROSTER_PUBLIC_URL")
    # Secrets only by reference: a required variable, never a value in the file.
    pw = str((pg.get("environment") or {}).get("POSTGRES_PASSWORD", ""))
    if not pw.startswith("${POSTGRES_PASSWORD:?"):
        die("POSTGRES_PASSWORD must be ${POSTGRES_PASSWORD:?...}, never a value")
    if "${POSTGRES_PASSWORD:?" not in env["ROSTER_DATABASE_URL"]:
        die("the database URL must take the password from ${POSTGRES_PASSWORD:?...}")
    # PostgreSQL refuses to start without one, and it must never be a value in the file.
    if not str(env.get("ROSTER_SECRETS_KEY", "")).startswith("${ROSTER_SECRETS_KEY:?"):
        die("ROSTER_SECRETS_KEY must be ${ROSTER_SECRETS_KEY:?...}, never a value")
    grace = str(ro.get("stop_grace_period", ""))
    if not re.fullmatch(r"\d+s", grace) or int(grace[:-1]) <= roster_stop_defaults():
        die("roster's stop_grace_period must exceed its drain plus shutdown timeout")
    for vol in pg.get("volumes", []):
        name = vol.split(":")[0]
        if not name.startswith(("/", ".")) and name not in (doc.get("volumes") or {}):
            die(f"volume {name} is not declared")
    print(f"{path}: services {', '.join(sorted(services))}; roster waits for a healthy postgres")


# ---------------------------------------------------------------- systemd unit


def unit_entries(unit):
    """(section, key, value) of a unit file, continuation lines joined."""
    section, out, buf = None, [], ""
    for raw in open(unit, encoding="utf-8"):
        line = raw.rstrip("\n")
        if not buf and (not line.strip() or line.lstrip()[0] in "#;"):
            continue
        if line.endswith("\\"):
            buf += line[:-1] + " "
            continue
        line, buf = buf + line, ""
        if line.startswith("["):
            section = line.strip("[] ")
            continue
        key, _, value = line.partition("=")
        out.append((section, key.strip(), value.strip()))
    return out


def env_assignments(text):
    """systemd's Environment= value: space-separated, optionally quoted, assignments."""
    return [w.partition("=")[::2] for w in shlex.split(text)]


def roster_stop_defaults():
    """shutdown_drain_secs + shutdown_timeout_secs, from src/config.rs's defaults."""
    text = open("src/config.rs", encoding="utf-8").read()
    total = 0
    for key in ("shutdown_drain_secs", "shutdown_timeout_secs"):
        m = re.search(rf"^\s*{key}: (\d+),", text, re.M)
        if not m:
            die(f"src/config.rs: no default for {key}")
        total += int(m.group(1))
    return total


REQUIRED_UNIT = {
    "DynamicUser": "yes", "NoNewPrivileges": "yes", "CapabilityBoundingSet": "",
    "ProtectSystem": "strict", "ProtectHome": "yes", "PrivateTmp": "yes",
    "MemoryDenyWriteExecute": "yes", "KillSignal": "SIGTERM", "Restart": "on-failure",
    "RestrictAddressFamilies": "AF_INET AF_INET6 AF_UNIX",
    "EnvironmentFile": "-/etc/roster/roster.env", "StateDirectory": "roster",
}


def cmd_unit(unit, envfile):
    env, service = {}, {}
    for section, key, value in unit_entries(unit):
        if section == "Service":
            service.setdefault(key, value)
            if key == "Environment":
                env.update(env_assignments(value))
    for key, want in REQUIRED_UNIT.items():
        if service.get(key) != want:
            die(f"{unit}: expected {key}={want}, found {service.get(key)!r}")
    stop = roster_stop_defaults()
    timeout = int(service.get("TimeoutStopSec", "90").rstrip("s"))
    if timeout <= stop:
        die(f"TimeoutStopSec={timeout} leaves no room for roster's {stop} s drain and shutdown")
    for raw in open(envfile, encoding="utf-8"):
        line = raw.strip()
        if line and line[0] not in "#;":
            key, sep, value = line.partition("=")
            if not sep or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key.strip()):
                die(f"{envfile}: not an assignment: {line}")
            env[key.strip()] = value.strip().strip("\"'")
    q = shlex.quote
    print("UNIT_EXEC=(" + " ".join(q(a) for a in shlex.split(service["ExecStart"])) + ")")
    print(f"UNIT_STATE_DIR=/var/lib/{q(service['StateDirectory'])}")
    print(f"UNIT_TIMEOUT_STOP={timeout}")
    print("UNIT_ENV=(" + " ".join(q(f"{k}={v}") for k, v in env.items()) + ")")


def syscall_groups():
    out = subprocess.run(
        ["systemd-analyze", "syscall-filter", "--no-pager"],
        check=True, capture_output=True, text=True,
    ).stdout
    groups, current = {}, None
    for line in out.splitlines():
        if line.startswith("@"):
            current = groups.setdefault(line.strip(), [])
        elif line.startswith("    ") and current is not None:
            item = line.strip()
            if item and not item.startswith("#"):
                current.append(item)
        elif not line.strip():
            current = None
    return groups


def expand(items, groups, seen=None):
    seen = set() if seen is None else seen
    names = set()
    for item in items:
        if item.startswith("@"):
            if item in seen:
                continue
            seen.add(item)
            if item not in groups:
                die(f"unknown system call group {item}")
            names |= expand(groups[item], groups, seen)
        else:
            names.add(item)
    return names


def cmd_sandbox(root, uid, gid, wd, unit, argv):
    import errno
    import mmap  # imported before the chroot, which hides the modules
    import socket

    import seccomp

    settings = {}
    filters = []
    for section, key, value in unit_entries(unit):
        if section != "Service":
            continue
        if key == "SystemCallFilter":
            filters.append(value)
        else:
            settings[key] = value
    groups = syscall_groups()
    allow = None
    deny = set()
    for value in filters:
        if value.startswith("~"):
            names = expand(value[1:].split(), groups)
            if allow is None:
                deny |= names
            else:
                allow -= names
        else:
            names = expand(value.split(), groups)
            allow = names if allow is None else allow | names
    if allow is None:
        die(f"{unit} has no SystemCallFilter allow-list")
    allow |= expand(["@default"], groups)  # systemd adds it to every allow-list
    err = getattr(errno, settings.get("SystemCallErrorNumber", "EPERM"))

    os.umask(int(settings.get("UMask", "0022"), 8))
    os.chroot(root)
    os.chdir(wd)
    os.setgroups([])
    os.setgid(gid)
    os.setuid(uid)
    if settings.get("NoNewPrivileges") != "yes":
        die("the unit must set NoNewPrivileges=yes")

    f = seccomp.SyscallFilter(defaction=seccomp.ERRNO(err))
    conditional = {"socket"}
    mdwe = settings.get("MemoryDenyWriteExecute") == "yes"
    if mdwe:
        conditional |= {"mmap", "mprotect", "pkey_mprotect", "shmat"}
    for name in sorted(allow - conditional):
        try:
            f.add_rule(seccomp.ALLOW, name)
        except (RuntimeError, ValueError, OSError):
            pass  # not a system call of this architecture
    families = settings.get("RestrictAddressFamilies")
    if "socket" in allow:
        if families:
            for fam in families.split():
                f.add_rule(seccomp.ALLOW, "socket", seccomp.Arg(0, seccomp.EQ, getattr(socket, fam)))
        else:
            f.add_rule(seccomp.ALLOW, "socket")
    if mdwe:
        # systemd 252's MemoryDenyWriteExecute=: no mapping both writable and
        # executable, no mprotect() to executable, no executable shared memory.
        w_x = 0x2 | 0x4  # PROT_WRITE | PROT_EXEC
        if "mmap" in allow:
            f.add_rule(seccomp.ALLOW, "mmap", seccomp.Arg(2, seccomp.MASKED_EQ, w_x, 0))
            f.add_rule(seccomp.ALLOW, "mmap", seccomp.Arg(2, seccomp.MASKED_EQ, w_x, 0x2))
            f.add_rule(seccomp.ALLOW, "mmap", seccomp.Arg(2, seccomp.MASKED_EQ, w_x, 0x4))
        for name in ("mprotect", "pkey_mprotect"):
            if name in allow:
                f.add_rule(seccomp.ALLOW, name, seccomp.Arg(2, seccomp.MASKED_EQ, 0x4, 0))
        if "shmat" in allow:
            f.add_rule(seccomp.ALLOW, "shmat", seccomp.Arg(2, seccomp.MASKED_EQ, 0o100000, 0))
    f.set_attr(seccomp.Attr.CTL_NNP, 1)
    f.load()

    # The filter must bite: what the unit forbids fails here, before roster starts.
    probes = []
    if "sched_setaffinity" not in allow:
        probes.append(("sched_setaffinity", lambda: os.sched_setaffinity(0, os.sched_getaffinity(0))))
    if families and "AF_NETLINK" not in families.split():
        probes.append(("socket(AF_NETLINK)", lambda: socket.socket(socket.AF_NETLINK, socket.SOCK_RAW)))
    if mdwe:
        probes.append(("a writable and executable mmap", lambda: mmap.mmap(-1, 4096, prot=mmap.PROT_WRITE | mmap.PROT_EXEC)))
    for what, probe in probes:
        try:
            probe()
        except OSError:
            continue
        die(f"the sandbox let {what} through")
    print(
        f"sandbox: {len(allow)} system calls allowed; refused as expected: "
        + ", ".join(what for what, _ in probes),
        file=sys.stderr,
    )
    os.execv(argv[0], argv)


# ---------------------------------------------------------------- .dockerignore


def dockerignore_patterns(path):
    pats = []
    for raw in open(path, encoding="utf-8"):
        line = raw.strip()
        if line and not line.startswith("#"):
            neg = line.startswith("!")
            pats.append((neg, os.path.normpath(line.lstrip("!").strip("/"))))
    return pats


def ignored(rel, pats):
    """Docker's rule: the last matching pattern wins; a match on a parent directory
    excludes everything below it. `**` matches any number of directories."""
    parts = rel.split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    result = False
    for neg, pat in pats:
        regex = re.escape(pat).replace(r"\*\*/", "(?:.*/)?").replace(r"\*\*", ".*")
        regex = regex.replace(r"\*", "[^/]*").replace(r"\?", "[^/]")
        if any(re.fullmatch(regex, p) for p in prefixes):
            result = not neg
    return result


def cmd_context(src, dst):
    pats = dockerignore_patterns(os.path.join(src, ".dockerignore"))
    files = subprocess.run(
        ["git", "-C", src, "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        check=True, capture_output=True, text=True,
    ).stdout.split("\0")
    kept = 0
    for rel in filter(None, files):
        full = os.path.join(src, rel)
        if ignored(rel, pats) or not os.path.exists(full):
            continue
        os.makedirs(os.path.dirname(os.path.join(dst, rel)), exist_ok=True)
        shutil.copy2(full, os.path.join(dst, rel))
        kept += 1
    for needed in ("Cargo.toml", "Cargo.lock", "src/main.rs", "migrations", "templates"):
        if not os.path.exists(os.path.join(dst, needed)):
            die(f".dockerignore leaves {needed} out of the build context")
    for gone in ("target", ".git", "docs"):
        if os.path.exists(os.path.join(dst, gone)):
            die(f".dockerignore lets {gone} into the build context")
    print(f"build context: {kept} files")


def main():
    if fnmatch.fnmatch(" ".join(sys.argv[1:2]), "-h*") or len(sys.argv) < 2:
        print(__doc__)
        return
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "dockerfile":
        cmd_dockerfile(*args)
    elif cmd == "rust-version":
        cmd_rust_version(*args)
    elif cmd == "compose":
        cmd_compose(*args)
    elif cmd == "unit":
        cmd_unit(*args)
    elif cmd == "context":
        cmd_context(*args)
    elif cmd == "sandbox":
        sep = args.index("--")
        root, uid, gid, wd, unit = args[:sep]
        cmd_sandbox(root, int(uid), int(gid), wd, unit, args[sep + 1:])
    else:
        die(f"unknown command {cmd}")


if __name__ == "__main__":
    main()
