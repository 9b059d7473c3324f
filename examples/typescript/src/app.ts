// A small application that takes its users and roles from roster.
//
// - Starts from roster's snapshot (GET /snapshot, all pages) when it has no stored cursor,
//   then follows the tenant's event feed (GET /events?after=<cursor>), keeping a local table
//   of users and their roles in a JSON file. The snapshot and its sequence, and then each
//   page of events and the new cursor, are written together, atomically (temporary file,
//   fsync, rename), so a restart continues exactly where the last write left off: no gap,
//   no event applied twice. When roster answers 410 Gone (the events after the cursor were
//   pruned), it bootstraps again.
// - Receives roster's webhooks, verifies them with the Standard Webhooks library, and uses
//   them only as a wake-up: the feed, not the webhook, is the ordered source of truth, so
//   duplicate or out-of-order deliveries are harmless.
// - Answers "may this user do X?" from the roles (permissions.ts), asking roster's
//   GET /effective-roles when the local table does not know the user.
//
// Usage: node dist/app.js serve | node dist/app.js may USER_NAME ACTION   (see README.md)

import { closeSync, existsSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from "node:fs";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { dirname } from "node:path";
import { Webhook, WebhookVerificationError } from "standardwebhooks";
import { allowed } from "./permissions.js";

interface User {
  userName: string; // lower-cased: roster compares userName ignoring case
  active: boolean;
  roles: string[] | null; // role slugs; null while not known
}

interface State {
  after: number; // the feed's next_after: every event up to it is applied
  applied: number; // events applied since the snapshot (after = snapshot + applied)
  snapshot: number; // the sequence of the snapshot the users started from
  users: Record<string, User>; // by roster's id of the user
}

interface RosterEvent {
  sequence: number;
  type: string;
  data: any; // its shape depends on `type`
}

interface EventPage {
  data: RosterEvent[];
  next_after: number;
}

interface SnapshotPage {
  sequence: number;
  users: { id: string; userName: string; active: boolean; roles: string[] }[];
  next_after: string | null;
}

/** 410 Gone: the events after the cursor were pruned; bootstrap again. */
class Gone extends Error {}

function log(level: string, message: string): void {
  console.error(`${new Date().toISOString()} ${level} ${message}`);
}

/** The local state: the feed cursor and the users, in one JSON file replaced atomically. */
class Store {
  state: State | null; // null: no stored cursor yet, so the follower bootstraps

  constructor(readonly path: string) {
    this.state = existsSync(path) ? (JSON.parse(readFileSync(path, "utf8")) as State) : null;
  }

  /** Replaces the users with a snapshot and sets the cursor to its sequence, in one write. */
  replace(sequence: number, users: SnapshotPage["users"]): void {
    const next: State = { after: sequence, applied: 0, snapshot: sequence, users: {} };
    for (const u of users) next.users[u.id] = { userName: u.userName.toLowerCase(), active: u.active, roles: u.roles };
    this.write(next);
    this.state = next;
  }

  /** Applies one page of events and moves the cursor, in one write. */
  apply(page: EventPage): void {
    const next: State = structuredClone(this.state!);
    if (page.data[0].sequence !== next.after + 1) { // roster answers 410 rather than skip
      throw new Error(`feed gap: expected ${next.after + 1}, got ${page.data[0].sequence}`);
    }
    for (const event of page.data) applyEvent(next.users, event);
    next.after = page.next_after;
    next.applied += page.data.length;
    this.write(next);
    this.state = next;
  }

  /** The user's roles, or null when the local table does not know them. */
  rolesOf(userName: string): string[] | null {
    const name = userName.toLowerCase();
    const user = Object.values(this.state?.users ?? {}).find((u) => u.userName === name);
    if (!user || user.roles === null) return null;
    return user.active ? user.roles : []; // inactive users hold no roles
  }

  private write(state: State): void {
    const temporary = `${this.path}.tmp`;
    const file = openSync(temporary, "w");
    writeSync(file, JSON.stringify(state));
    fsyncSync(file);
    closeSync(file);
    renameSync(temporary, this.path); // atomic: the old state or the new, never half of one
    const directory = openSync(dirname(this.path), "r");
    fsyncSync(directory); // the rename itself is on disk
    closeSync(directory);
  }
}

function applyEvent(users: Record<string, User>, event: RosterEvent): void {
  const data = event.data;
  switch (event.type) {
    case "user.created": // a new user holds no role until a user.roles_changed says so
      users[data.id] = { userName: data.userName.toLowerCase(), active: data.active ?? true, roles: [] };
      break;
    case "user.updated":
    case "user.deactivated":
    case "user.reactivated":
      users[data.id] = {
        userName: data.userName.toLowerCase(),
        active: data.active ?? true,
        roles: users[data.id]?.roles ?? null,
      };
      break;
    case "user.deleted":
      delete users[data.id];
      break;
    case "user.roles_changed":
      // Carries the full after-state, so applying it is idempotent. The one that follows a
      // user.deleted (no roles left) must not bring the user back: without roles, it only
      // updates a user we hold.
      if (data.after.length > 0 || data.user.id in users) {
        users[data.user.id] = { userName: data.user.userName.toLowerCase(), active: data.user.active, roles: data.after };
      }
      break;
    // Other types (groups, memberships, roles, tokens, …) need nothing here: role changes
    // they cause arrive as user.roles_changed.
  }
}

/** roster's application API, with a key holding `events:read` and `roles:read`. */
class Roster {
  private readonly base: string;

  constructor(url: string, tenant: string, private readonly apiKey: string) {
    this.base = `${url.replace(/\/+$/, "")}/api/v1/tenants/${encodeURIComponent(tenant)}`;
  }

  private async get<T>(path: string, query: Record<string, string>): Promise<T | null> {
    const response = await fetch(`${this.base}${path}?${new URLSearchParams(query)}`, {
      headers: { Authorization: `Bearer ${this.apiKey}`, Accept: "application/json" },
      signal: AbortSignal.timeout(10_000),
    });
    if (response.status === 404) return null;
    if (response.status === 410) throw new Gone(`GET ${path}: 410 ${(await response.text()).slice(0, 300)}`);
    if (!response.ok) throw new Error(`GET ${path}: ${response.status} ${(await response.text()).slice(0, 300)}`);
    return (await response.json()) as T;
  }

  async events(after: number): Promise<EventPage> {
    return (await this.get<EventPage>("/events", { after: String(after), limit: "500" }))!;
  }

  async snapshot(query: Record<string, string> = {}): Promise<SnapshotPage> {
    return (await this.get<SnapshotPage>("/snapshot", { ...query, limit: "1000" }))!;
  }

  async effectiveRoles(userName: string): Promise<string[]> {
    const body = await this.get<{ roles: { slug: string }[] }>("/effective-roles", { userName });
    return body === null ? [] : body.roles.map((role) => role.slug);
  }
}

interface Answer {
  user: string;
  action: string;
  allowed: boolean;
  roles: string[];
  source: "local" | "roster";
}

/** May this user do this action? Local state first, roster when we don't know the user. */
async function may(store: Store, roster: Roster, user: string, action: string): Promise<Answer> {
  const local = store.rolesOf(user);
  const roles = local ?? (await roster.effectiveRoles(user));
  return { user, action, allowed: allowed(roles, action), roles, source: local === null ? "roster" : "local" };
}

/** Reads the feed from the stored cursor to its end, then sleeps until a webhook (or the
 * poll interval) wakes it. */
class Follower {
  appliedSinceStart = 0;
  bootstrapsSinceStart = 0;
  lastBootstrap: string | null = null; // why the last bootstrap since the start happened
  private woken = false;
  private wakeUp: (() => void) | null = null;

  constructor(private readonly store: Store, private readonly roster: Roster, private readonly pollMs: number) {}

  wake(): void {
    this.woken = true;
    this.wakeUp?.();
  }

  async run(): Promise<never> {
    for (;;) {
      this.woken = false; // before reading: a wake-up during the read reads again
      try {
        await this.catchUp();
      } catch (error) {
        log("WARNING", `feed: ${error}`); // roster unreachable, 503, …: try again later
      }
      if (!this.woken) await this.sleep();
    }
  }

  private async catchUp(): Promise<void> {
    for (;;) {
      if (this.store.state === null) {
        await this.bootstrap("no stored cursor");
        continue;
      }
      const after = this.store.state.after;
      let page: EventPage;
      try {
        page = await this.roster.events(after);
      } catch (error) {
        if (!(error instanceof Gone)) throw error;
        log("WARNING", `feed: ${error.message}`);
        await this.bootstrap(`410 Gone after sequence ${after}`);
        continue;
      }
      if (page.data.length === 0) return;
      this.store.apply(page);
      this.appliedSinceStart += page.data.length;
      log("INFO", `applied events ${page.data[0].sequence}..${page.next_after}`);
    }
  }

  /** Reads every page of the snapshot, then replaces the local state with it. */
  private async bootstrap(reason: string): Promise<void> {
    for (;;) {
      try {
        let page = await this.roster.snapshot();
        const sequence = page.sequence;
        const users = [...page.users];
        while (page.next_after !== null) {
          page = await this.roster.snapshot({ after: page.next_after, at: String(sequence) });
          users.push(...page.users);
        }
        this.store.replace(sequence, users);
        this.bootstrapsSinceStart++;
        this.lastBootstrap = reason;
        log("INFO", `bootstrapped from the snapshot at sequence ${sequence} (${users.length} users; ${reason})`);
        return;
      } catch (error) {
        if (!(error instanceof Gone)) throw error;
        log("WARNING", `snapshot: ${error.message}`); // pruned past `at` while we read: start again
      }
    }
  }

  private sleep(): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.wakeUp = null;
        resolve();
      };
      const timer = setTimeout(done, this.pollMs);
      this.wakeUp = done;
    });
  }
}

function reply(res: ServerResponse, status: number, body?: unknown): void {
  if (body === undefined) {
    res.writeHead(status).end();
  } else {
    res.writeHead(status, { "Content-Type": "application/json" }).end(JSON.stringify(body));
  }
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

function serve(store: Store, roster: Roster, secret: string, listen: string, pollMs: number): void {
  const webhook = new Webhook(secret);
  const follower = new Follower(store, roster, pollMs);
  const webhooks = { verified: 0, rejected: 0, types: new Set<string>() };

  const server = createServer(async (req, res) => {
    const url = new URL(req.url ?? "/", "http://localhost");
    try {
      if (req.method === "POST" && url.pathname === "/webhooks/roster") {
        const body = await readBody(req); // the raw bytes, before any JSON parsing
        const headers: Record<string, string> = {};
        for (const [name, value] of Object.entries(req.headers)) {
          if (typeof value === "string") headers[name] = value;
        }
        let message: { type?: string };
        try {
          // Checks the signature and the timestamp (at most 5 minutes off).
          message = webhook.verify(body, headers) as { type?: string };
        } catch (error) {
          if (!(error instanceof WebhookVerificationError)) throw error;
          webhooks.rejected++;
          log("WARNING", `webhook rejected: ${error.message}`);
          return reply(res, 401, { error: error.message });
        }
        webhooks.verified++;
        webhooks.types.add(message?.type ?? "?");
        follower.wake();
        return reply(res, 204);
      }
      const user = url.searchParams.get("user");
      const action = url.searchParams.get("action");
      if (req.method === "GET" && url.pathname === "/may" && user && action) {
        try {
          return reply(res, 200, await may(store, roster, user, action));
        } catch (error) {
          return reply(res, 503, { error: String(error) });
        }
      }
      if (req.method === "GET" && url.pathname === "/status") {
        return reply(res, 200, {
          cursor: store.state?.after ?? null,
          snapshot_sequence: store.state?.snapshot ?? null,
          applied_total: store.state?.applied ?? 0,
          applied_since_start: follower.appliedSinceStart,
          bootstraps_since_start: follower.bootstrapsSinceStart,
          last_bootstrap: follower.lastBootstrap,
          webhooks_verified: webhooks.verified,
          webhooks_rejected: webhooks.rejected,
          webhook_types: [...webhooks.types].sort(),
        });
      }
      reply(res, 404, { error: "GET /may?user=&action= or /status" });
    } catch (error) {
      log("ERROR", String(error));
      if (!res.headersSent) reply(res, 500, { error: "internal error" });
    }
  });

  const at = listen.lastIndexOf(":");
  server.listen(Number(listen.slice(at + 1)), listen.slice(0, at), () => {
    log("INFO", `listening on http://${listen} (POST /webhooks/roster, GET /may, GET /status)`);
  });
  process.on("SIGTERM", () => process.exit(0)); // every state write is atomic
  log("INFO", store.state === null
    ? "no stored cursor: bootstrapping from the snapshot"
    : `resuming the feed after sequence ${store.state.after}`);
  void follower.run();
}

function env(name: string, fallback?: string): string {
  const value = process.env[name] ?? fallback;
  if (value === undefined) {
    console.error(`set ${name} (see README.md)`);
    process.exit(2);
  }
  return value;
}

async function main(): Promise<void> {
  const [command, ...args] = process.argv.slice(2);
  if (command !== "serve" && !(command === "may" && args.length === 2)) {
    console.error("usage: node dist/app.js serve | node dist/app.js may USER_NAME ACTION");
    process.exit(2);
  }
  const store = new Store(env("STATE_FILE", "app-state.json"));
  const roster = new Roster(env("ROSTER_URL"), env("ROSTER_TENANT"), env("ROSTER_API_KEY"));
  if (command === "may") {
    const answer = await may(store, roster, args[0], args[1]);
    console.log(JSON.stringify(answer));
    process.exit(answer.allowed ? 0 : 1);
  }
  serve(store, roster, env("ROSTER_WEBHOOK_SECRET"), env("LISTEN", "127.0.0.1:8002"),
    Number(env("POLL_SECONDS", "30")) * 1000);
}

await main();
