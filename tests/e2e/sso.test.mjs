// End-to-end: an application (examples/oidc-app, on openid-client) signs a user in
// through roster, which signs in upstream with the local OIDC provider, in headless
// Chromium. The user is provisioned just in time, gets roles once SCIM puts them in a
// mapped group, and is refused once SCIM deactivates them.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import * as h from './harness.mjs';

const { TENANT } = h;
let world;
let app;

before(async () => {
  world = await h.start();
  const port = await h.freePort();
  app = `http://127.0.0.1:${port}`;
  const out = world.cli('oauth-client', 'create', TENANT, '--name', 'Acme portal',
    '--redirect-uri', `${app}/callback`, '--post-logout-redirect-uri', `${app}/`);
  const secret = out.trim().split('\n').pop();
  const list = world.cli('oauth-client', 'list', TENANT);
  const clientId = list.trim().split('\n')[1].split(/\s+/)[0];
  world.cli('sso', 'settings', TENANT, '--jit', 'on', '--jit-domain', 'acme.example');
  await h.startHelper(world, 'node', [path.join(h.ROOT, 'examples/oidc-app/server.mjs')], {
    ROSTER_ISSUER: `${world.base}/oauth/${TENANT}`,
    CLIENT_ID: clientId,
    CLIENT_SECRET: secret,
    APP_URL: app,
  }, 'oidc-app.log', /"listening"/, 'the example application');
});

after(async () => {
  if (world) await h.stop(world);
});

// The app's sign-in, through roster and the provider's form as `account`, back to the
// app, in a new browser context (the provider's session would skip its form).
async function signInAtApp(account) {
  const page = await h.newPage(world);
  await page.goto(`${app}/`);
  await page.locator('#sign-in').click();
  await page.locator('input[name=account]').fill(account);
  await Promise.all([
    page.waitForURL((url) => url.href.startsWith(app)),
    page.locator('button[type=submit]').click(),
  ]);
  await page.waitForLoadState('load');
  return page;
}

test('an application signs a user in through roster, with JIT, roles and deactivation', { timeout: 180_000 }, async () => {
  // First sign-in: eve is unknown to the directory; JIT creates her.
  let page = await signInAtApp('eve');
  assert.equal(await page.locator('#email').innerText(), 'eve@acme.example');
  assert.equal(await page.locator('#tenant').innerText(), TENANT);
  assert.equal(await page.locator('#roles').innerText(), '(none)');
  const sub = await page.locator('#sub').innerText();
  const token = world.cli('token', 'create', TENANT, '--name', 'e2e-sso').trim().split('\n').pop();
  const user = await h.scim(world, token, 'GET', `/Users/${sub}`);
  assert.equal(user.userName, 'eve@acme.example', 'the JIT user is a directory user');

  // SCIM puts her in Engineering, which maps to "editor": her next sign-in carries it.
  const api = h.apiClient(world, 'e2e-sso');
  const group = await h.scim(world, token, 'POST', '/Groups', {
    schemas: ['urn:ietf:params:scim:schemas:core:2.0:Group'],
    displayName: 'Engineering',
    members: [{ value: sub }],
  });
  await api('POST', '/roles', { slug: 'editor', name: 'Editor', priority: 10, privileged: false });
  await api('POST', '/mappings', { group: group.id, role: 'editor' });
  // Signing out goes through roster's logout and back to the app.
  await page.locator('#sign-out').click();
  await page.waitForURL(`${app}/`);
  assert.equal(await page.locator('#anonymous').count(), 1, 'signed out');
  await page.context().close();
  page = await signInAtApp('eve');
  assert.equal(await page.locator('#roles').innerText(), 'editor');
  assert.equal(await page.locator('#groups').innerText(), 'Engineering');
  assert.equal(await page.locator('#sub').innerText(), sub, 'the same user, not a second one');

  // SCIM deactivates her: the next sign-in fails, and the app says why.
  await h.scim(world, token, 'PATCH', `/Users/${sub}`, {
    schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
    Operations: [{ op: 'replace', path: 'active', value: false }],
  });
  await page.context().close();
  page = await signInAtApp('eve');
  assert.match(await page.locator('#error').innerText(), /deactivated/);
  await page.context().close();

  // The owner sees the application, the rules and the sign-in log on the Applications
  // screen (and on eve's page, that she was created at sign-in).
  const admin = await h.newPage(world);
  await h.signIn(world, admin, 'ada');
  await admin.goto(`/admin/${TENANT}/applications`);
  await admin.locator('#clients', { hasText: 'Acme portal' }).waitFor();
  assert.equal(await admin.locator('#jit-enabled').isChecked(), true);
  await admin.locator('#sign-in-log', { hasText: 'created (JIT)' }).waitFor();
  await admin.locator('#sign-in-log', { hasText: 'deactivated' }).waitFor();
  await h.shoot(admin, '21-applications');
  await admin.goto(`/admin/${TENANT}/users/${sub}`);
  await admin.locator('#jit').waitFor();
  await admin.context().close();
});
