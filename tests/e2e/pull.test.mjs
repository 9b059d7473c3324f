// Directory sync in the browser: the owner connects the JumpCloud API (the stand-in,
// tests/jumpcloud/standin.py) on the Directory sync screen, reads a dry run's diff with
// its role impact, and applies it; then the deprovisioning guard holds a burst of SCIM
// deactivations, the banner says so on every screen, and the owner releases them from
// the Held changes screen.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import * as h from './harness.mjs';

const { TENANT } = h;
let world;
let standin;

before(async () => {
  world = await h.start();
  const ready = await h.startHelper(world, 'python3', [path.join(h.ROOT, 'tests/jumpcloud/standin.py'),
    '--port', '0', '--users', '60', '--groups', '4'], {}, 'standin.log', /\{"url".*\}/, 'the JumpCloud stand-in');
  standin = JSON.parse(ready[0]).url;
});

after(async () => {
  if (world) await h.stop(world);
});

// Reloads the run's page until its state is one of `states`.
async function untilState(page, states) {
  for (let i = 0; i < 150; i += 1) {
    const state = (await page.locator('#state').innerText()).trim();
    if (states.includes(state)) return state;
    await new Promise((r) => setTimeout(r, 200));
    await page.reload();
  }
  throw new Error(`the run never became ${states.join(' or ')}`);
}

async function control(method, p, body) {
  const res = await fetch(`${standin}/_standin${p}`, {
    method, headers: { 'content-type': 'application/json' }, body: body && JSON.stringify(body),
  });
  if (!res.ok) throw new Error(`stand-in ${method} ${p}: ${res.status}`);
  return res.json();
}

test('the owner connects JumpCloud, reviews a run with its role impact, and applies it', { timeout: 180_000 }, async () => {
  const page = await h.newPage(world);
  await h.signIn(world, page, 'ada');
  await page.goto(`/admin/${TENANT}/directory-sync`);
  assert.ok(await page.locator('#no-source').isVisible());
  await page.locator('#source-form input[name=api_key]').fill('jc-test-key');
  await page.locator('#source-form input[name=base_url]').fill(standin);
  await Promise.all([page.waitForURL(/directory-sync\?saved=1/), page.locator('#source-form button[type=submit]').click()]);
  assert.match(await page.locator('#source').innerText(), /set \(never shown again\)/);
  assert.doesNotMatch(await page.content(), /jc-test-key/);

  await Promise.all([page.waitForURL(/directory-sync\/runs\//), page.locator('#run-now button').click()]);
  assert.equal(await untilState(page, ['planned', 'failed']), 'planned');
  assert.match(await page.locator('#counts').innerText(), /user\.create\s+58/);
  assert.match(await page.locator('#skipped').innerText(), /user40@acme\.test/);
  await h.shoot(page, '23-directory-sync-first-run');
  await Promise.all([page.waitForURL(/directory-sync\/runs\//), page.locator('#decide button.primary').click()]);
  assert.equal(await untilState(page, ['applied']), 'applied');

  // A role mapped to JumpCloud's group 1; then JumpCloud moves people out of it.
  const api = h.apiClient(world, 'e2e-pull');
  const token = world.cli('token', 'create', TENANT, '--name', 'e2e-pull').trim().split('\n').pop();
  const groups = await h.scim(world, token, 'GET', '/Groups?count=100');
  const state = await control('GET', '/state');
  const group1 = state.groups.find((g) => g.id === '650000000000000000000002');
  const mapped = groups.Resources.find((g) => g.displayName === group1.name);
  await api('POST', '/roles', { slug: 'editor', name: 'Editor', priority: 10, privileged: true });
  await api('POST', '/mappings', { group: mapped.id, role: 'editor' });
  const leaving = state.members[group1.id].filter((u) => !['64f000000000000000000029', '64f00000000000000000002a'].includes(u)).slice(0, 2);
  await control('POST', `/groups/${group1.id}/members`, { remove: leaving });

  await page.goto(`/admin/${TENANT}/directory-sync`);
  await Promise.all([page.waitForURL(/directory-sync\/runs\//), page.locator('#run-now button').click()]);
  assert.equal(await untilState(page, ['planned', 'failed']), 'planned');
  const impact = await page.locator('#role-impact').innerText();
  assert.match(impact, /editor/);
  assert.match(impact, /privileged/);
  assert.match(await page.locator('#changes').innerText(), /remove/);
  await h.shoot(page, '24-directory-sync-diff');
  await Promise.all([page.waitForURL(/directory-sync\/runs\//), page.locator('#decide button.primary').click()]);
  assert.equal(await untilState(page, ['applied']), 'applied');
  await page.goto(`/admin/${TENANT}/directory-sync`);
  assert.equal(await page.locator('#runs tbody tr').count(), 2);
});

test('the guard holds a burst of deactivations, every screen says so, and the owner releases them', { timeout: 120_000 }, async () => {
  const page = await h.newPage(world);
  await h.signIn(world, page, 'ada');
  await page.goto(`/admin/${TENANT}/held`);
  assert.ok(await page.locator('#nothing-held').isVisible());
  await page.locator('#guard-form input[name=enabled]').check();
  await page.locator('#guard-form input[name=percent]').fill('100');
  await page.locator('#guard-form input[name=max_users]').fill('1');
  await page.locator('#guard-form input[name=min_users]').fill('1');
  await Promise.all([page.waitForURL(/\/held$/), page.locator('#guard-form button[type=submit]').click()]);

  const token = world.cli('token', 'create', TENANT, '--name', 'e2e-guard').trim().split('\n').pop();
  const users = (await h.scim(world, token, 'GET', '/Users?filter=active%20eq%20true&count=3')).Resources;
  for (const u of users) {
    const done = await h.scim(world, token, 'PATCH', `/Users/${u.id}`, {
      schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
      Operations: [{ op: 'replace', path: 'active', value: false }],
    });
    assert.equal(done.active, false, 'the IdP is answered as if applied');
  }
  await page.goto(`/admin/${TENANT}/users`);
  assert.match(await page.locator('#held-banner').innerText(), /2 changes/);
  await page.locator('#held-banner a').click();
  await page.waitForURL(/\/held$/);
  assert.equal(await page.locator('#held tbody tr').count(), 2);
  assert.match(await page.locator('#held-summary').innerText(), /from 2 users/);
  await h.shoot(page, '25-held-changes');
  await Promise.all([page.waitForURL(/\/held$/), page.locator('#decide button.danger').click()]);
  assert.ok(await page.locator('#nothing-held').isVisible());
  assert.equal(await page.locator('#held-banner').count(), 0);
  for (const u of users) {
    assert.equal((await h.scim(world, token, 'GET', `/Users/${u.id}`)).active, false);
  }
});
