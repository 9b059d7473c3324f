#!/usr/bin/env python3
"""A small application that takes its users and roles from roster.

- Starts from roster's snapshot (GET /snapshot, all pages) when it has no stored cursor,
  then follows the tenant's event feed (GET /events?after=<cursor>), keeping a local table
  of users and their roles in SQLite. The snapshot and its sequence, and then each page of
  events and the new cursor, are committed in one transaction, so a restart continues
  exactly where the last commit left off: no gap, no event applied twice. When roster
  answers 410 Gone (the events after the cursor were pruned), it bootstraps again.
- Receives roster's webhooks, verifies them with the Standard Webhooks library, and uses
  them only as a wake-up: the feed, not the webhook, is the ordered source of truth, so
  duplicate or out-of-order deliveries are harmless.
- Answers "may this user do X?" from the roles (permissions.py), asking roster's
  GET /effective-roles when the local table does not know the user.

Usage: python app.py serve | python app.py may USER_NAME ACTION   (see README.md)
"""

import argparse
import contextlib
import json
import logging
import os
import signal
import sqlite3
import sys
import threading
import urllib.error
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from permissions import allowed

log = logging.getLogger("roster-example")

SCHEMA = """
-- No row: no stored cursor yet, so the follower bootstraps from the snapshot.
CREATE TABLE IF NOT EXISTS feed_cursor (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    after INTEGER NOT NULL,     -- the feed's next_after: every event up to it is applied
    applied INTEGER NOT NULL,   -- events applied since the snapshot (after = snapshot + applied)
    snapshot INTEGER NOT NULL   -- the sequence of the snapshot the users table started from
);
CREATE TABLE IF NOT EXISTS users (
    id TEXT PRIMARY KEY,        -- roster's id of the user
    user_name TEXT NOT NULL,    -- lower-cased: roster compares userName ignoring case
    active INTEGER NOT NULL,
    roles TEXT                  -- JSON list of role slugs; NULL while not known
);
CREATE INDEX IF NOT EXISTS users_by_name ON users (user_name);
"""


class Store:
    """The local state: the feed cursor and the users table, in one SQLite file."""

    def __init__(self, path: str):
        self.path = path
        with self.connect() as db:
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(SCHEMA)

    @contextlib.contextmanager
    def connect(self):
        db = sqlite3.connect(self.path, timeout=10)
        try:
            db.execute("PRAGMA synchronous=FULL")  # a commit is on disk before we go on
            yield db
        finally:
            db.close()

    def feed(self) -> tuple[int, int, int] | None:
        """(after, applied, snapshot), or None before the first bootstrap."""
        with self.connect() as db:
            return db.execute("SELECT after, applied, snapshot FROM feed_cursor").fetchone()

    def replace(self, sequence: int, users: list[dict]) -> None:
        """Replaces the users table with a snapshot and sets the cursor to its sequence, in
        one transaction."""
        with self.connect() as db:
            with db:
                db.execute("DELETE FROM users")
                db.executemany("INSERT INTO users VALUES (?, ?, ?, ?)", [
                    (u["id"], u["userName"].lower(), bool(u["active"]), json.dumps(u["roles"]))
                    for u in users])
                db.execute("INSERT OR REPLACE INTO feed_cursor VALUES (1, ?, 0, ?)",
                           (sequence, sequence))

    def apply(self, after: int, events: list[dict], next_after: int) -> None:
        """Applies one page of events and moves the cursor, in one transaction."""
        with self.connect() as db:
            with db:  # commits, or rolls back on an exception
                if events[0]["sequence"] != after + 1:  # roster answers 410 rather than skip
                    raise RuntimeError(f"feed gap: expected {after + 1}, got {events[0]['sequence']}")
                for event in events:
                    apply_event(db, event)
                moved = db.execute(
                    "UPDATE feed_cursor SET after = ?, applied = applied + ? WHERE after = ?",
                    (next_after, len(events), after),
                ).rowcount
                if moved != 1:
                    raise RuntimeError("another process moved the cursor")

    def roles_of(self, user_name: str) -> list[str] | None:
        """The user's roles, or None when the local table does not know them."""
        with self.connect() as db:
            row = db.execute("SELECT active, roles FROM users WHERE user_name = ? LIMIT 1",
                             (user_name.lower(),)).fetchone()
        if row is None or row[1] is None:
            return None
        return json.loads(row[1]) if row[0] else []  # inactive users hold no roles


def apply_event(db: sqlite3.Connection, event: dict) -> None:
    kind, data = event["type"], event["data"]
    if kind == "user.created":
        # A new user holds no role until a user.roles_changed says so.
        db.execute("INSERT OR REPLACE INTO users VALUES (?, ?, ?, '[]')",
                   (data["id"], data["userName"].lower(), bool(data.get("active", True))))
    elif kind in ("user.updated", "user.deactivated", "user.reactivated"):
        db.execute(
            "INSERT INTO users VALUES (?, ?, ?, NULL) ON CONFLICT (id) DO UPDATE"
            " SET user_name = excluded.user_name, active = excluded.active",
            (data["id"], data["userName"].lower(), bool(data.get("active", True))))
    elif kind == "user.deleted":
        db.execute("DELETE FROM users WHERE id = ?", (data["id"],))
    elif kind == "user.roles_changed":
        # Carries the full after-state, so applying it is idempotent. The one that follows a
        # user.deleted (no roles left) must not bring the user back: without roles, it only
        # updates a user we hold.
        user = data["user"]
        row = {"id": user["id"], "user_name": user["userName"].lower(),
               "active": bool(user["active"]), "roles": json.dumps(data["after"])}
        if data["after"]:
            db.execute(
                "INSERT INTO users VALUES (:id, :user_name, :active, :roles) ON CONFLICT (id)"
                " DO UPDATE SET user_name = :user_name, active = :active, roles = :roles", row)
        else:
            db.execute("UPDATE users SET user_name = :user_name, active = :active, roles = :roles"
                       " WHERE id = :id", row)
    # Other types (groups, memberships, roles, tokens, …) need nothing here: role changes
    # they cause arrive as user.roles_changed.


class Gone(Exception):
    """410 Gone: the events after the cursor were pruned; bootstrap again."""


class Roster:
    """roster's application API, with a key holding `events:read` and `roles:read`."""

    def __init__(self, url: str, tenant: str, api_key: str):
        self.base = f"{url.rstrip('/')}/api/v1/tenants/{urllib.parse.quote(tenant)}"
        self.api_key = api_key

    def get(self, path: str, **query) -> tuple[int, dict]:
        request = urllib.request.Request(
            f"{self.base}{path}?{urllib.parse.urlencode(query)}",
            headers={"Authorization": f"Bearer {self.api_key}", "Accept": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, json.load(response)
        except urllib.error.HTTPError as error:
            if error.code == 404:
                return 404, {}
            if error.code == 410:
                raise Gone(f"GET {path}: 410 {error.read()[:300]!r}") from None
            raise RuntimeError(f"GET {path}: {error.code} {error.read()[:300]!r}") from None

    def events(self, after: int) -> dict:
        return self.get("/events", after=after, limit=500)[1]

    def snapshot(self, **query) -> dict:
        return self.get("/snapshot", limit=1000, **query)[1]

    def effective_roles(self, user_name: str) -> list[str]:
        status, body = self.get("/effective-roles", userName=user_name)
        return [] if status == 404 else [role["slug"] for role in body["roles"]]


def may(store: Store, roster: Roster, user_name: str, action: str) -> dict:
    """May this user do this action? Local state first, roster when we don't know the user."""
    roles, source = store.roles_of(user_name), "local"
    if roles is None:
        roles, source = roster.effective_roles(user_name), "roster"
    return {"user": user_name, "action": action, "allowed": allowed(roles, action),
            "roles": roles, "source": source}


class Follower(threading.Thread):
    """Reads the feed from the stored cursor to its end, then sleeps until a webhook (or
    the poll interval) wakes it."""

    def __init__(self, store: Store, roster: Roster, poll_seconds: float):
        super().__init__(daemon=True)
        self.store, self.roster, self.poll_seconds = store, roster, poll_seconds
        self.wake = threading.Event()
        self.applied_since_start = 0
        self.bootstraps_since_start = 0
        self.last_bootstrap = None  # why the last bootstrap since the start happened

    def run(self) -> None:
        while True:
            self.wake.clear()  # before reading: a wake-up during the read reads again
            try:
                self.catch_up()
            except Exception as error:  # roster unreachable, 503, …: try again later
                log.warning("feed: %s", error)
            self.wake.wait(self.poll_seconds)

    def catch_up(self) -> None:
        while True:
            feed = self.store.feed()
            if feed is None:
                self.bootstrap("no stored cursor")
                continue
            after = feed[0]
            try:
                page = self.roster.events(after)
            except Gone as error:
                log.warning("feed: %s", error)
                self.bootstrap(f"410 Gone after sequence {after}")
                continue
            if not page["data"]:
                return
            self.store.apply(after, page["data"], page["next_after"])
            self.applied_since_start += len(page["data"])
            log.info("applied events %d..%d", page["data"][0]["sequence"], page["next_after"])


    def bootstrap(self, reason: str) -> None:
        """Reads every page of the snapshot, then replaces the local state with it."""
        while True:
            try:
                page = self.roster.snapshot()
                sequence, users = page["sequence"], page["users"]
                while page["next_after"] is not None:
                    page = self.roster.snapshot(after=page["next_after"], at=sequence)
                    users += page["users"]
                break
            except Gone as error:  # pruned past `at` while we read: start again
                log.warning("snapshot: %s", error)
        self.store.replace(sequence, users)
        self.bootstraps_since_start += 1
        self.last_bootstrap = reason
        log.info("bootstrapped from the snapshot at sequence %d (%d users; %s)",
                 sequence, len(users), reason)


class Handler(BaseHTTPRequestHandler):
    app: "App"

    def do_POST(self) -> None:
        if urllib.parse.urlsplit(self.path).path != "/webhooks/roster":
            return self.reply(404, {"error": "not found"})
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        try:
            # The raw bytes, before any JSON parsing; checks the signature and the timestamp.
            message = self.app.webhook.verify(body, dict(self.headers.items()))
        except WebhookVerificationError as error:
            self.app.webhook_rejected()
            log.warning("webhook rejected: %s", error)
            return self.reply(401, {"error": str(error)})
        self.app.webhook_verified(message.get("type", "?"))
        self.app.follower.wake.set()
        self.reply(204, None)

    def do_GET(self) -> None:
        url = urllib.parse.urlsplit(self.path)
        query = dict(urllib.parse.parse_qsl(url.query))
        if url.path == "/may" and query.get("user") and query.get("action"):
            try:
                return self.reply(200, may(self.app.store, self.app.roster,
                                           query["user"], query["action"]))
            except Exception as error:
                return self.reply(503, {"error": str(error)})
        if url.path == "/status":
            after, applied, snapshot = self.app.store.feed() or (None, 0, None)
            follower = self.app.follower
            return self.reply(200, {
                "cursor": after, "snapshot_sequence": snapshot, "applied_total": applied,
                "applied_since_start": follower.applied_since_start,
                "bootstraps_since_start": follower.bootstraps_since_start,
                "last_bootstrap": follower.last_bootstrap,
                "webhooks_verified": self.app.verified,
                "webhooks_rejected": self.app.rejected,
                "webhook_types": sorted(self.app.types),
            })
        self.reply(404, {"error": "GET /may?user=&action= or /status"})

    def reply(self, status: int, body) -> None:
        data = b"" if body is None else json.dumps(body).encode()
        self.send_response(status)
        if body is not None:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format, *args) -> None:
        log.debug(format, *args)


class App:
    def __init__(self, store: Store, roster: Roster, secret: str, poll_seconds: float):
        self.store, self.roster = store, roster
        self.webhook = Webhook(secret)
        self.follower = Follower(store, roster, poll_seconds)
        self.lock = threading.Lock()
        self.verified, self.rejected, self.types = 0, 0, set()

    def webhook_verified(self, event_type: str) -> None:
        with self.lock:
            self.verified += 1
            self.types.add(event_type)

    def webhook_rejected(self) -> None:
        with self.lock:
            self.rejected += 1


def env(name: str, default: str | None = None) -> str:
    value = os.environ.get(name, default)
    if value is None:
        sys.exit(f"set {name} (see README.md)")
    return value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("serve", help="follow the feed, receive webhooks, answer /may")
    ask = commands.add_parser("may", help="may USER_NAME do ACTION? exit 0 yes, 1 no")
    ask.add_argument("user_name")
    ask.add_argument("action")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")

    store = Store(env("STATE_DB", "app-state.db"))
    roster = Roster(env("ROSTER_URL"), env("ROSTER_TENANT"), env("ROSTER_API_KEY"))
    if args.command == "may":
        answer = may(store, roster, args.user_name, args.action)
        print(json.dumps(answer))
        sys.exit(0 if answer["allowed"] else 1)

    app = App(store, roster, env("ROSTER_WEBHOOK_SECRET"), float(env("POLL_SECONDS", "30")))
    host, port = env("LISTEN", "127.0.0.1:8001").rsplit(":", 1)
    Handler.app = app
    server = ThreadingHTTPServer((host, int(port)), Handler)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    feed = store.feed()
    if feed is None:
        log.info("no stored cursor: bootstrapping from the snapshot")
    else:
        log.info("resuming the feed after sequence %d", feed[0])
    app.follower.start()
    log.info("listening on http://%s:%s (POST /webhooks/roster, GET /may, GET /status)",
             host, server.server_port)
    server.serve_forever()


if __name__ == "__main__":
    main()
