// A local OpenID Provider for roster's admin login tests: panva/oidc-provider (an
// OpenID-certified implementation) issuing JumpCloud-shaped claims, plus a "forge"
// issuer that signs whatever claims a test asks for (wrong audience, stale nonce,
// expired, unknown kid...), which a correct provider cannot be made to do.
//
// Configured by the JSON in OIDC_TEST_CONFIG:
//   { "port": 0, "forgePort": 0,
//     "clients": [{ "client_id", "client_secret", "redirect_uris": [...] }],
//     "accounts": { "<login_hint>": { "email": ..., "groups": ..., ... } } }
// An account's "_userinfo_only": ["groups"] keeps those claims out of the ID token.
// Logins finish without a UI when the authorization request carries a login_hint (the
// account); without one (a browser) a minimal form asks for the account.
// Every start makes a new RSA key with a new kid: restarting on the same port rotates keys.
// Prints one JSON line {"issuer", "forge"} on stdout once both listen.
import http from 'node:http';
import { generateKeyPairSync, randomUUID, sign, createHash, createHmac, createPublicKey } from 'node:crypto';
import Provider from 'oidc-provider';

const config = JSON.parse(process.env.OIDC_TEST_CONFIG || '{}');
const accounts = config.accounts || {};

function newKey() {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwk = { ...privateKey.export({ format: 'jwk' }), kid: randomUUID(), alg: 'RS256', use: 'sig' };
  const { d, p, q, dp, dq, qi, ...publicJwk } = jwk;
  return { privateKey, jwk, publicJwk };
}

// ---- the real provider -------------------------------------------------------------
const extraClaims = new Set();
for (const claims of Object.values(accounts)) {
  for (const name of Object.keys(claims)) {
    if (!['sub', 'email', 'email_verified', 'name', 'preferred_username', '_userinfo_only'].includes(name)) {
      extraClaims.add(name);
    }
  }
}

// oidc-provider's own memory store is a 1,000-entry LRU: a benchmark's hundreds of
// sign-ins in flight (each a session, an interaction, a grant, a code) evicted codes
// before they were exchanged. This one keeps every entry until it expires.
const stored = new Map();
class Store {
  constructor(model) {
    this.model = model;
  }
  static key(model, id) {
    return `${model}:${id}`;
  }
  get(key) {
    const entry = stored.get(key);
    if (!entry) return undefined;
    if (entry.expires < Date.now()) {
      stored.delete(key);
      return undefined;
    }
    return entry.value;
  }
  set(key, value, expiresIn) {
    stored.set(key, { value, expires: expiresIn ? Date.now() + expiresIn * 1000 : Infinity });
  }
  async upsert(id, payload, expiresIn) {
    const key = Store.key(this.model, id);
    this.set(key, payload, expiresIn);
    if (payload.grantId) {
      const grant = `grant:${payload.grantId}`;
      const members = this.get(grant) || [];
      members.push(key);
      this.set(grant, members, expiresIn);
    }
    if (payload.uid) this.set(`sessionUid:${payload.uid}`, id, expiresIn);
    if (payload.userCode) this.set(`userCode:${payload.userCode}`, id, expiresIn);
  }
  async find(id) {
    return this.get(Store.key(this.model, id));
  }
  async findByUid(uid) {
    const id = this.get(`sessionUid:${uid}`);
    return id && this.find(id);
  }
  async findByUserCode(userCode) {
    const id = this.get(`userCode:${userCode}`);
    return id && this.find(id);
  }
  async consume(id) {
    const payload = this.get(Store.key(this.model, id));
    if (payload) payload.consumed = Math.floor(Date.now() / 1000);
  }
  async destroy(id) {
    stored.delete(Store.key(this.model, id));
  }
  async revokeByGrantId(grantId) {
    for (const key of this.get(`grant:${grantId}`) || []) stored.delete(key);
    stored.delete(`grant:${grantId}`);
  }
}
setInterval(() => {
  const now = Date.now();
  for (const [key, entry] of stored) if (entry.expires < now) stored.delete(key);
}, 60_000).unref();

async function startProvider(port) {
  const server = http.createServer();
  await new Promise((resolve) => server.listen(port, '127.0.0.1', resolve));
  const issuer = `http://127.0.0.1:${server.address().port}`;
  const provider = new Provider(issuer, {
    adapter: Store,
    clients: (config.clients || []).map((c) => ({
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
      ...c,
    })),
    jwks: { keys: [newKey().jwk] },
    pkce: { required: () => true },
    // JumpCloud puts the scopes' claims into the ID token itself.
    conformIdTokenClaims: false,
    claims: {
      openid: ['sub', ...extraClaims],
      email: ['email', 'email_verified'],
      profile: ['name', 'preferred_username'],
    },
    features: { devInteractions: { enabled: false } },
    async findAccount(ctx, id) {
      const claims = accounts[id];
      if (!claims) return undefined;
      return {
        accountId: id,
        async claims(use) {
          const { _userinfo_only: hidden = [], ...rest } = claims;
          const out = { sub: id, ...rest };
          if (use === 'id_token') for (const name of hidden) delete out[name];
          return out;
        },
      };
    },
  });
  provider.proxy = false;
  // Headless interactions: log in as login_hint, grant what is asked.
  provider.use(async (ctx, next) => {
    if (!ctx.path.startsWith('/interaction/')) return next();
    const details = await provider.interactionDetails(ctx.req, ctx.res);
    const { prompt, params, session } = details;
    let result;
    if (prompt.name === 'login') {
      let account = params.login_hint;
      // A browser's request carries no login_hint: a person types the account.
      if (!account) {
        if (ctx.method !== 'POST') {
          ctx.type = 'html';
          ctx.body = loginForm(ctx.path);
          return undefined;
        }
        account = new URLSearchParams(await body(ctx.req)).get('account');
      }
      if (!accounts[account]) {
        ctx.status = 400;
        ctx.body = `unknown account ${account}`;
        return undefined;
      }
      result = { login: { accountId: account } };
    } else {
      const grant = details.grantId
        ? await provider.Grant.find(details.grantId)
        : new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
      const missing = prompt.details || {};
      if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
      if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
      result = { consent: { grantId: await grant.save() } };
    }
    const to = await provider.interactionResult(ctx.req, ctx.res, result, { mergeWithLastSubmission: true });
    ctx.status = 303;
    ctx.redirect(to);
    return undefined;
  });
  server.on('request', provider.callback());
  return issuer;
}

// The interactive sign-in page, for browser tests: one account field, one button.
function loginForm(action) {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Test IdP sign-in</title></head>
<body><h1>Test IdP sign-in</h1>
<form method="post" action="${action}">
<label>Account <input name="account" autocomplete="username" autofocus required></label>
<button type="submit">Sign in</button>
</form></body></html>`;
}

// ---- the forge ---------------------------------------------------------------------
const forgeKey = newKey();
const forge = { template: { claims: {}, kid: null, userinfo: null }, codes: new Map(), jwksFetches: 0 };

function b64url(buf) {
  return Buffer.from(buf).toString('base64url');
}

// RS256 with the forge's key; or, when a test asks, the attacks on verifiers: `none`
// (no signature) and HS256 keyed with the forge's *public* key (algorithm confusion).
function signJwt(header, payload) {
  const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(payload))}`;
  if (header.alg === 'none') return `${input}.`;
  if (header.alg === 'HS256') {
    const publicPem = createPublicKey(forgeKey.privateKey).export({ type: 'spki', format: 'pem' });
    return `${input}.${b64url(createHmac('sha256', publicPem).update(input).digest())}`;
  }
  return `${input}.${b64url(sign('sha256', Buffer.from(input), forgeKey.privateKey))}`;
}

async function body(req) {
  let data = '';
  for await (const chunk of req) data += chunk;
  return data;
}

async function startForge(port) {
  const server = http.createServer(async (req, res) => {
    const url = new URL(req.url, issuer());
    const json = (status, value) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(value));
    };
    if (url.pathname === '/.well-known/openid-configuration') {
      return json(200, {
        issuer: issuer(),
        authorization_endpoint: `${issuer()}/authorize`,
        token_endpoint: `${issuer()}/token`,
        jwks_uri: `${issuer()}/jwks`,
        userinfo_endpoint: `${issuer()}/userinfo`,
        // Only _post, so roster's choice of client authentication is exercised.
        token_endpoint_auth_methods_supported: ['client_secret_post'],
        id_token_signing_alg_values_supported: ['RS256'],
      });
    }
    if (url.pathname === '/jwks') {
      forge.jwksFetches += 1;
      return json(200, { keys: [forgeKey.publicJwk] });
    }
    if (url.pathname === '/authorize') {
      const code = randomUUID();
      const p = url.searchParams;
      forge.codes.set(code, {
        nonce: p.get('nonce'),
        clientId: p.get('client_id'),
        challenge: p.get('code_challenge'),
      });
      const to = new URL(p.get('redirect_uri'));
      to.searchParams.set('code', code);
      to.searchParams.set('state', p.get('state'));
      res.writeHead(303, { location: to.toString() });
      return res.end();
    }
    if (url.pathname === '/token' && req.method === 'POST') {
      const form = new URLSearchParams(await body(req));
      const grant = forge.codes.get(form.get('code'));
      forge.codes.delete(form.get('code'));
      if (!grant) return json(400, { error: 'invalid_grant' });
      if (req.headers.authorization) return json(400, { error: 'invalid_request', error_description: 'expected client_secret_post only' });
      if (!form.get('client_secret')) return json(401, { error: 'invalid_client' });
      const challenge = createHash('sha256').update(form.get('code_verifier') || '').digest('base64url');
      if (challenge !== grant.challenge) return json(400, { error: 'invalid_grant', error_description: 'PKCE' });
      const now = Math.floor(Date.now() / 1000);
      const claims = {
        iss: issuer(), aud: [grant.clientId], sub: 'forged-subject', iat: now, exp: now + 300,
        nonce: grant.nonce, ...forge.template.claims,
      };
      for (const [k, v] of Object.entries(claims)) if (v === null) delete claims[k];
      const idToken = signJwt({ alg: forge.template.alg || 'RS256', typ: 'JWT', kid: forge.template.kid || forgeKey.jwk.kid }, claims);
      return json(200, { access_token: randomUUID(), token_type: 'Bearer', expires_in: 300, id_token: idToken });
    }
    if (url.pathname === '/userinfo') {
      return json(200, forge.template.userinfo || { sub: 'forged-subject' });
    }
    if (url.pathname === '/__forge' && req.method === 'POST') {
      forge.template = { claims: {}, kid: null, alg: null, userinfo: null, ...JSON.parse(await body(req)) };
      return json(200, { ok: true });
    }
    if (url.pathname === '/__stats') {
      return json(200, { jwks_fetches: forge.jwksFetches });
    }
    return json(404, { error: 'not found' });
  });
  await new Promise((resolve) => server.listen(port, '127.0.0.1', resolve));
  forge.issuer = `http://127.0.0.1:${server.address().port}`;
  return forge.issuer;
}

function issuer() {
  return forge.issuer;
}

const providerIssuer = await startProvider(config.port || 0);
const forgeIssuer = await startForge(config.forgePort || 0);
process.stdout.write(`${JSON.stringify({ issuer: providerIssuer, forge: forgeIssuer })}\n`);
