// The world one e2e run needs: a fresh database, roster (the prebuilt binary), the local
// OIDC provider (tests/oidc/provider.mjs), tenant "acme" with OIDC sign-in configured
// JumpCloud-style, and headless Chromium (Debian's, driven by playwright-core).
//
// Builds nothing: the binary is $ROSTER_BIN or target/debug/roster. The database is a
// temp SQLite file, or a new PostgreSQL database roster_e2e_<random> on the server of
// $E2E_DATABASE_URL, dropped at the end. Everything started here is stopped by stop(),
// and killed on process exit if stop() never ran.
import { spawn, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const TENANT = 'acme';
const CLIENT_ID = 'roster-acme';
const CLIENT_SECRET = 's3cret-of-acme';
// A loaded 2-core machine: generous, but a hang still fails in bounded time.
export const TIMEOUT = 30_000;

// The IdP's accounts, as JumpCloud sends them: groups in memberOf (one group is a bare
// string), email_verified as the string "true".
export const ACCOUNTS = {
  ada: { email: 'ada@acme.example', email_verified: 'true', name: 'Ada Owner', memberOf: 'Roster Owners' },
  eve: { email: 'eve@acme.example', email_verified: 'true', name: 'Eve Engineer', memberOf: ['Engineering', 'Sales'] },
};

const children = new Set();
process.on('exit', () => {
  for (const child of children) child.kill('SIGKILL');
});
// Interrupted (Ctrl-C, a CI time-out): clean up what we can in 5 s (the temp dir, the
// PostgreSQL database), then exit, so the handler above kills whatever is left.
let current = null;
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, async () => {
    if (current) await Promise.race([stop(current), new Promise((r) => setTimeout(r, 5_000))]);
    process.exit(130);
  });
}

export function startChild(cmd, args, env, logName, logDir) {
  const log = fs.createWriteStream(path.join(logDir, logName));
  const child = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  child.on('exit', () => children.delete(child));
  const output = { text: '' };
  for (const stream of [child.stdout, child.stderr]) {
    stream.on('data', (chunk) => {
      output.text += chunk;
      log.write(chunk);
    });
  }
  return { child, output, log: path.join(logDir, logName) };
}

// Resolves with the first match of `re` in the child's output; fails if it exits first.
export function waitForOutput({ child, output, log }, re, what) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      const err = new Error(`${what}: no sign of life in ${TIMEOUT} ms (log: ${log}); its output:\n${output.text.slice(-2000)}`);
      err.timedOut = true;
      done(err);
    }, TIMEOUT);
    const check = () => {
      const m = output.text.match(re);
      if (m) done(null, m);
    };
    const onExit = (code) => done(new Error(`${what} exited (${code}) before it was ready:\n${output.text}`));
    function done(err, m) {
      clearTimeout(timer);
      child.stdout.off('data', check);
      child.stderr.off('data', check);
      child.off('exit', onExit);
      if (err) reject(err);
      else resolve(m);
    }
    child.stdout.on('data', check);
    child.stderr.on('data', check);
    child.on('exit', onExit);
    check();
  });
}

// A test's helper server (an IdP, the example app, a stand-in), started and stopped with
// the world. A helper that shows no sign of life in TIMEOUT is started once more: CI once
// saw the OIDC provider, which is ready in about a second, stay silent for 30 s, once.
export async function startHelper(world, cmd, args, env, logName, re, what) {
  for (let attempt = 1; ; attempt++) {
    const started = startChild(cmd, args, env, attempt === 1 ? logName : `${logName}.${attempt}`, world.work);
    world.stops.unshift(() => stopChild(started.child));
    try {
      return await waitForOutput(started, re, what);
    } catch (e) {
      if (!e.timedOut || attempt === 2) throw e;
      console.error(`e2e: ${e.message}\ne2e: starting ${what} once more`);
      await stopChild(started.child);
    }
  }
}

export async function stopChild(child) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
  await exited;
  clearTimeout(timer);
}

function psql(url, sql) {
  execFileSync('psql', [url, '-qtAc', sql], { stdio: ['ignore', 'ignore', 'pipe'] });
}

export async function start() {
  const bin = process.env.ROSTER_BIN || path.join(ROOT, 'target/debug/roster');
  if (!fs.existsSync(bin)) throw new Error(`no roster binary at ${bin}: run cargo build (or set ROSTER_BIN)`);
  if (!fs.existsSync(path.join(ROOT, 'tests/oidc/node_modules/oidc-provider'))) {
    throw new Error('the OIDC provider is not installed: npm ci --prefix tests/oidc');
  }
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'roster-e2e-'));
  const world = { work, bin, stops: [] };
  current = world;

  const admin = process.env.E2E_DATABASE_URL;
  if (admin) {
    const db = `roster_e2e_${randomBytes(6).toString('hex')}`;
    psql(admin, `CREATE DATABASE ${db}`);
    world.stops.push(() => psql(admin, `DROP DATABASE IF EXISTS ${db} WITH (FORCE)`));
    const url = new URL(admin);
    url.pathname = `/${db}`;
    world.databaseUrl = url.toString();
    world.backend = 'postgres';
  } else {
    world.databaseUrl = `sqlite://${path.join(work, 'roster.db')}`;
    world.backend = 'sqlite';
  }
  // E2E_KEEP=1 keeps roster's and the provider's logs for a post-mortem.
  if (process.env.E2E_KEEP === '1') world.stops.push(() => console.error(`e2e: logs kept in ${work}`));
  else world.stops.push(() => fs.rmSync(work, { recursive: true, force: true }));
  const env = {
    ROSTER_DATABASE_URL: world.databaseUrl,
    // The webhook screen's example endpoint is on loopback.
    ROSTER_ALLOW_PRIVATE_WEBHOOK_URLS: 'true',
    // PostgreSQL needs a configured secrets key; SQLite makes its own file.
    ...(world.backend === 'postgres' ? { ROSTER_SECRETS_KEY: randomBytes(32).toString('base64') } : {}),
  };
  world.cli = (...args) => execFileSync(bin, args, { env: { ...process.env, ...env }, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

  try {
    world.cli('tenant', 'create', TENANT, '--name', 'Acme Corp');
    const roster = startChild(bin, ['serve'], {
      ...env, ROSTER_LISTEN: '127.0.0.1:0', ROSTER_LOG_FORMAT: 'json', ROSTER_LOG_LEVEL: 'info', ROSTER_WORKERS: '2',
    }, 'roster.log', work);
    world.stops.unshift(() => stopChild(roster.child));
    world.rosterLog = roster.log;
    // Port 0: roster logs the address it bound.
    world.base = (await waitForOutput(roster, /"url":"(http:\/\/[^"]+)"/, 'roster serve'))[1];

    // The provider needs roster's callback URL, so it starts second.
    const ready = await startHelper(world, 'node', [path.join(ROOT, 'tests/oidc/provider.mjs')], {
      OIDC_TEST_CONFIG: JSON.stringify({
        port: 0,
        forgePort: 0,
        // The admin login's callback, and that of roster's own OpenID Provider.
        clients: [{
          client_id: CLIENT_ID,
          client_secret: CLIENT_SECRET,
          redirect_uris: [`${world.base}/admin/${TENANT}/callback`, `${world.base}/oauth/${TENANT}/callback`],
        }],
        accounts: ACCOUNTS,
      }),
    }, 'provider.log', /^\{.*\}$/m, 'the OIDC provider');
    world.issuer = JSON.parse(ready[0]).issuer;

    world.cli('admin', 'oidc', 'set', TENANT, '--issuer', world.issuer, '--client-id', CLIENT_ID,
      '--client-secret', CLIENT_SECRET, '--groups-claim', 'memberOf', '--map-group', 'Roster Owners=owner');

    world.browser = await chromium.launch({
      executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
      headless: true,
      args: ['--headless=new', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-background-networking'],
      timeout: TIMEOUT,
    });
    world.stops.unshift(() => world.browser.close());
  } catch (e) {
    await stop(world);
    throw e;
  }
  return world;
}

// Stops what start() started, newest first; keeps going past failures.
export async function stop(world) {
  for (const fn of world.stops) {
    try {
      await fn();
    } catch (e) {
      console.error(`cleanup: ${e.message}`);
    }
  }
  world.stops = [];
}

// A new browser context (its own cookies) at 1280×800, with the run's timeouts.
export async function newPage(world) {
  const context = await world.browser.newContext({ viewport: { width: 1280, height: 800 }, baseURL: world.base });
  context.setDefaultTimeout(TIMEOUT);
  context.setDefaultNavigationTimeout(TIMEOUT);
  return context.newPage();
}

// Signs in through the provider's form as `account`; resolves once the redirects land
// back on roster (the overview, or the callback's refusal page).
export async function signIn(world, page, account) {
  await page.goto(`/admin/${TENANT}/login`);
  await page.locator('input[name=account]').fill(account);
  await Promise.all([
    page.waitForURL((url) => url.href.startsWith(world.base)),
    page.locator('button[type=submit]').click(),
  ]);
}

const SCREENSHOTS = process.env.SCREENSHOTS === '1';
const SHOT_DIR = path.join(ROOT, 'docs/screenshots');

// docs/screenshots/NN-name.png, only when SCREENSHOTS=1 (CI leaves them alone).
export async function shoot(page, name, { fullPage = true } = {}) {
  if (!SCREENSHOTS) return;
  fs.mkdirSync(SHOT_DIR, { recursive: true });
  // Fonts load asynchronously; a shot before them shows empty boxes.
  await page.evaluate(() => document.fonts.ready);
  await page.screenshot({ path: path.join(SHOT_DIR, `${name}.png`), fullPage, animations: 'disabled', caret: 'hide' });
}

// SCIM as JumpCloud sends it.
export async function scim(world, token, method, resource, body) {
  const res = await fetch(`${world.base}/scim/v2/${TENANT}${resource}`, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      'content-type': 'application/scim+json; charset=utf-8',
      accept: 'application/scim+json',
      'user-agent': 'JumpCloud-SCIM (roster e2e)',
    },
    body: body && JSON.stringify(body),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${resource}: ${res.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

// A free TCP port on the loopback, for a child server of a test.
export async function freePort() {
  const server = net.createServer();
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

// The application API of the tenant, with a new key: api(method, path, body) → JSON.
export function apiClient(world, name) {
  const key = world.cli('api-key', 'create', TENANT, '--name', name).trim().split('\n').pop();
  return async (method, p, body) => {
    const res = await fetch(`${world.base}/api/v1/tenants/${TENANT}${p}`, {
      method,
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: body && JSON.stringify(body),
    });
    if (!res.ok) throw new Error(`${method} ${p}: ${res.status} ${await res.text()}`);
    return res.json();
  };
}
