// A small web application that signs its users in through roster, the customer's
// OpenID Provider, with openid-client (an OpenID-certified relying party library), and
// shows who signed in and the roles roster says they hold.
//
//   ROSTER_ISSUER=https://roster.example.com/oauth/acme \
//   CLIENT_ID=rcl_… CLIENT_SECRET=rcs_… APP_URL=http://127.0.0.1:3000 node server.mjs
//
// APP_URL is where browsers reach this app: its callback, APP_URL/callback, must be a
// redirect URI of the client (`roster oauth-client create … --redirect-uri`). The port
// is APP_URL's. Sessions live in memory: restart, and everyone signs in again.
import http from 'node:http';
import { randomBytes } from 'node:crypto';
import * as client from 'openid-client';

const issuer = new URL(required('ROSTER_ISSUER'));
const appUrl = new URL(required('APP_URL'));
const redirectUri = new URL('/callback', appUrl).href;

function required(name) {
  const value = process.env[name];
  if (!value) {
    console.error(`set ${name}`);
    process.exit(2);
  }
  return value;
}

// Discovery; plain http only for a roster on this machine (development, the tests).
const config = await client.discovery(
  issuer,
  required('CLIENT_ID'),
  required('CLIENT_SECRET'),
  undefined,
  issuer.protocol === 'http:' ? { execute: [client.allowInsecureRequests] } : undefined,
);

const sessions = new Map(); // cookie → { claims } or { pending: { verifier, nonce, state } }

function cookieOf(req) {
  const match = /(?:^|;\s*)app_session=([^;]+)/.exec(req.headers.cookie || '');
  return match && match[1];
}

function page(res, status, body) {
  res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
  res.end(`<!doctype html><meta charset="utf-8"><title>Acme portal</title><main>${body}</main>`);
}

const escape = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

const server = http.createServer(async (req, res) => {
  try {
    const url = new URL(req.url, appUrl);
    const id = cookieOf(req);
    const session = id && sessions.get(id);
    if (url.pathname === '/') {
      if (!session?.claims) return page(res, 200, '<p id="anonymous">Not signed in.</p><a id="sign-in" href="/login">Sign in</a>');
      const c = session.claims;
      return page(res, 200, `<p>Signed in as <span id="email">${escape(c.email)}</span>
        (<span id="sub">${escape(c.sub)}</span>, tenant <span id="tenant">${escape(c.tenant)}</span>).</p>
        <p>Roles: <span id="roles">${escape((c.roles || []).join(', ') || '(none)')}</span></p>
        <p>Groups: <span id="groups">${escape((c.groups || []).join(', '))}</span></p>
        <a id="sign-out" href="/logout">Sign out</a>`);
    }
    if (url.pathname === '/login') {
      const pending = {
        verifier: client.randomPKCECodeVerifier(),
        nonce: client.randomNonce(),
        state: client.randomState(),
      };
      const cookie = randomBytes(24).toString('base64url');
      sessions.set(cookie, { pending });
      const target = client.buildAuthorizationUrl(config, {
        redirect_uri: redirectUri,
        scope: 'openid email profile',
        nonce: pending.nonce,
        state: pending.state,
        code_challenge: await client.calculatePKCECodeChallenge(pending.verifier),
        code_challenge_method: 'S256',
      });
      res.writeHead(303, {
        location: target.href,
        'set-cookie': `app_session=${cookie}; Path=/; HttpOnly; SameSite=Lax`,
      });
      return res.end();
    }
    if (url.pathname === '/callback') {
      if (url.searchParams.has('error')) {
        return page(res, 403, `<p id="error">Sign-in failed: ${escape(url.searchParams.get('error_description') || url.searchParams.get('error'))}</p><a id="sign-in" href="/login">Try again</a>`);
      }
      if (!session?.pending) return page(res, 400, '<p id="error">No sign-in in progress.</p>');
      const tokens = await client.authorizationCodeGrant(config, url, {
        pkceCodeVerifier: session.pending.verifier,
        expectedNonce: session.pending.nonce,
        expectedState: session.pending.state,
      });
      // The ID token's claims, checked by the library (signature, issuer, audience, nonce);
      // userinfo reads the user again, now.
      const claims = tokens.claims();
      const info = await client.fetchUserInfo(config, tokens.access_token, claims.sub);
      sessions.set(id, { claims: { ...claims, ...info } });
      res.writeHead(303, { location: '/' });
      return res.end();
    }
    if (url.pathname === '/logout') {
      if (id) sessions.delete(id);
      const end = client.buildEndSessionUrl(config, { post_logout_redirect_uri: new URL('/', appUrl).href, client_id: config.clientMetadata().client_id });
      res.writeHead(303, { location: end.href });
      return res.end();
    }
    page(res, 404, '<p>Not found.</p>');
  } catch (e) {
    console.error(e);
    page(res, 500, `<p id="error">${escape(e.message)}</p>`);
  }
});

server.listen(Number(appUrl.port) || 80, appUrl.hostname, () => {
  console.log(JSON.stringify({ listening: appUrl.href }));
});
