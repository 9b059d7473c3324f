// End-to-end over SAML: the owner connects the tenant's SAML IdP (the local pysaml2 IdP,
// tests/saml/idp.py, shaped like JumpCloud) on the Admin SSO screen from its metadata URL
// and tests it; then an application (examples/oidc-app, on openid-client) signs a user
// in through roster, which signs in upstream over SAML, in headless Chromium. The user
// is provisioned just in time with the groups of the assertion and their roles, and is
// refused once SCIM deactivates them.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import * as h from './harness.mjs';

const { TENANT } = h;
const PYTHON = path.join(h.ROOT, 'tests/saml/.venv/bin/python');
let world;
let app;
let idp;

before(async () => {
  if (!fs.existsSync(PYTHON)) throw new Error('the local SAML IdP is not installed (tests/saml/.venv: see tests/saml/requirements.txt)');
  world = await h.start();
  const ready = await h.startHelper(world, PYTHON, [path.join(h.ROOT, 'tests/saml/idp.py')], {
    SAML_TEST_CONFIG: JSON.stringify({
      entity_id: 'JumpCloud',
      accounts: { 'mia@acme.example': { firstName: 'Mia', lastName: 'Wallace', memberOf: ['Engineering'] } },
    }),
  }, 'saml-idp.log', /\{"url".*\}/, 'the SAML IdP');
  idp = JSON.parse(ready[0]).url;

  const port = await h.freePort();
  app = `http://127.0.0.1:${port}`;
  const out = world.cli('oauth-client', 'create', TENANT, '--name', 'Acme portal',
    '--redirect-uri', `${app}/callback`, '--post-logout-redirect-uri', `${app}/`);
  const secret = out.trim().split('\n').pop();
  const clientId = world.cli('oauth-client', 'list', TENANT).trim().split('\n')[1].split(/\s+/)[0];
  world.cli('sso', 'settings', TENANT, '--jit', 'on', '--jit-domain', 'acme.example',
    '--sync-groups', 'on', '--connection', 'saml');
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

// Through the IdP's sign-in form as `email`; resolves once the browser is back where
// `back` says.
async function atIdp(page, email, back) {
  await page.locator('#email').fill(email);
  await Promise.all([page.waitForURL(back), page.locator('#sign-in').click()]);
  await page.waitForLoadState('load');
}

test('the owner connects SAML on the SSO screen, and an application signs users in over it', { timeout: 180_000 }, async () => {
  // The directory has Engineering, mapped to "editor"; mia is not in the directory yet.
  const token = world.cli('token', 'create', TENANT, '--name', 'e2e-saml').trim().split('\n').pop();
  const api = h.apiClient(world, 'e2e-saml');
  const group = await h.scim(world, token, 'POST', '/Groups', {
    schemas: ['urn:ietf:params:scim:schemas:core:2.0:Group'],
    displayName: 'Engineering',
  });
  await api('POST', '/roles', { slug: 'editor', name: 'Editor', priority: 10, privileged: false });
  await api('POST', '/mappings', { group: group.id, role: 'editor' });

  // The owner pastes the IdP's metadata URL, sees what to give JumpCloud, and tests.
  const admin = await h.newPage(world);
  await h.signIn(world, admin, 'ada');
  await admin.goto(`/admin/${TENANT}/sso`);
  assert.equal(await admin.locator('#acs-url').innerText(), `${world.base}/saml/${TENANT}/acs`);
  await admin.locator('#saml-form input[name=metadata_url]').fill(`${idp}/metadata`);
  await Promise.all([admin.waitForURL(/sso\?saved=1/), admin.locator('#saml-form button[type=submit]').click()]);
  assert.equal(await admin.locator('#saml-idp-entity').innerText(), 'JumpCloud');
  await h.shoot(admin, '22-sso-saml');
  await admin.locator('#saml-test-sign-in').click();
  await atIdp(admin, 'mia@acme.example', (url) => url.href.startsWith(world.base));
  assert.equal(await admin.locator('#test-name-id').innerText(), 'mia@acme.example');
  assert.match(await admin.locator('#test-groups').innerText(), /Engineering/);
  await admin.context().close();

  // The application's sign-in: roster → the SAML IdP → roster → the application.
  const signIn = async () => {
    const page = await h.newPage(world);
    await page.goto(`${app}/`);
    await page.locator('#sign-in').click();
    await page.locator('#email').waitFor();
    await atIdp(page, 'mia@acme.example', (url) => url.href.startsWith(app));
    return page;
  };
  let page = await signIn();
  assert.equal(await page.locator('#email').innerText(), 'mia@acme.example');
  assert.equal(await page.locator('#roles').innerText(), 'editor', 'the assertion\'s group, mapped');
  assert.equal(await page.locator('#groups').innerText(), 'Engineering');
  const sub = await page.locator('#sub').innerText();
  const user = await h.scim(world, token, 'GET', `/Users/${sub}`);
  assert.equal(user.userName, 'mia@acme.example', 'created just in time');
  assert.equal(user.name.givenName, 'Mia');
  await page.context().close();

  // SCIM deactivates her: the next sign-in fails, and the application says why.
  await h.scim(world, token, 'PATCH', `/Users/${sub}`, {
    schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
    Operations: [{ op: 'replace', path: 'active', value: false }],
  });
  page = await signIn();
  assert.match(await page.locator('#error').innerText(), /deactivated/);
  await page.context().close();
});
