// A hospital's OpenID Connect provider for the tests: node-oidc-provider on a loopback port, with one client
// registered for Cradle's callback, a few people with groups, and simple login and consent forms.
//
// Settings come as JSON in OIDC_TEST_SETTINGS:
//   {"client_id", "client_secret", "redirect_uris": [...], "people": [{"sub", "login", "name", "groups"}],
//    "groups_in_id_token": false}
// The first line on stdout is {"issuer": "http://127.0.0.1:PORT"} once the provider listens.
//
// The login form asks which methods the person used ("amr", comma-separated, and an optional "acr"): the provider
// puts them in the ID token, as a hospital's provider does after a password, an authenticator code or a security key.
//
// A few addresses exist only to drive the tests, the way the directory tests change people in slapd:
//   POST /_test/people/LOGIN   {"groups": [...]}   IT changes the person's groups
//   POST /_test/next-token     {"mode": MODE}      the next token answer carries a bad ID token (see `spoil`)
//   POST /_test/next-userinfo  {}                  the next userinfo answer is about someone else
//   POST /_test/sign           {claims}            these claims (with iss, aud, iat, exp) signed with the provider's key
//   GET  /_test/last-id-token                      the last genuine ID token the provider issued
//   GET  /_test/logout-tokens                      the back-channel logout tokens the provider sent since the last
//                                                  call: it sends them here, and the test hands them to Cradle's
//                                                  test client, which no server can reach

import http from 'node:http';
import crypto from 'node:crypto';

import { SignJWT, exportJWK, generateKeyPair, importJWK, base64url } from 'jose';
import Provider from 'oidc-provider';

const settings = JSON.parse(process.env.OIDC_TEST_SETTINGS);
const people = new Map(settings.people.map((p) => [p.login, { ...p }]));
const bySub = (sub) => [...people.values()].find((p) => p.sub === sub);

const { privateKey } = await generateKeyPair('RS256', { extractable: true });
const signingJwk = { ...(await exportJWK(privateKey)), kid: 'hospital-1', alg: 'RS256', use: 'sig' };
const signingKey = await importJWK(signingJwk, 'RS256');

let nextMode = null;
let nextUserinfoOther = false;
let logoutTokens = [];
let lastIdToken = null;

const escape = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const page = (title, body) => `<!DOCTYPE html><html><head><title>${escape(title)}</title></head><body>${body}</body></html>`;

async function readBody(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  return Buffer.concat(chunks).toString();
}

function decodePart(part) {
  return JSON.parse(Buffer.from(part, 'base64url').toString());
}

async function resign(claims, key = signingKey, header = { alg: 'RS256', kid: 'hospital-1', typ: 'JWT' }) {
  return new SignJWT(claims).setProtectedHeader(header).sign(key);
}

// The ways an ID token can be wrong, each standing for an attack or a misconfiguration Cradle must refuse.
async function spoil(idToken, mode) {
  const [header, payload] = idToken.split('.');
  const claims = decodePart(payload);
  const now = Math.floor(Date.now() / 1000);
  switch (mode) {
    case 'tampered': {
      // Someone on the way changes whose token it is (or their groups) and keeps the signature.
      const changed = { ...claims, sub: 'someone-else', groups: ['nicu-admins'] };
      const forged = base64url.encode(JSON.stringify(changed));
      return `${header}.${forged}.${idToken.split('.')[2]}`;
    }
    case 'foreign_key': {
      // Signed by a key the hospital never published, under the hospital's key id.
      const { privateKey: other } = await generateKeyPair('RS256');
      return resign(claims, other);
    }
    case 'expired':
      return resign({ ...claims, iat: now - 7200, exp: now - 3600 });
    case 'stale_sign_in':
      // A provider that ignored max_age=0 and answered from a sign-in made an hour ago.
      return resign({ ...claims, auth_time: now - 3600 });
    case 'foreign_issuer':
      return resign({ ...claims, iss: 'https://login.elsewhere.example' });
    case 'other_audience':
      return resign({ ...claims, aud: 'another-application' });
    case 'replayed':
      // A genuine token from an earlier sign-in: its nonce belongs to another request.
      return lastIdToken;
    case 'no_nonce': {
      const { nonce, ...rest } = claims;
      return resign(rest);
    }
    case 'alg_none':
      return `${base64url.encode(JSON.stringify({ alg: 'none', typ: 'JWT' }))}.${payload}.`;
    case 'hs256':
      // Signed with the client secret, which Cradle also knows: a symmetric signature proves nothing about the
      // provider, so Cradle takes only the provider's published keys.
      return resign(claims, new TextEncoder().encode(settings.client_secret), { alg: 'HS256', typ: 'JWT' });
    default:
      throw new Error(`unknown mode ${mode}`);
  }
}

const configuration = {
  clients: [
    {
      client_id: settings.client_id,
      client_secret: settings.client_secret,
      redirect_uris: settings.redirect_uris,
      response_types: ['code'],
      grant_types: ['authorization_code'],
      token_endpoint_auth_method: 'client_secret_post',
    },
  ],
  jwks: { keys: [signingJwk] },
  cookies: { keys: [crypto.randomBytes(32).toString('hex')] },
  claims: {
    acr: null,
    amr: null,
    auth_time: null,
    iss: null,
    sid: null,
    // Like most hospital providers, every ID token says how and when the person signed in.
    openid: ['sub', 'amr', 'acr', 'auth_time'],
    profile: ['name', 'preferred_username'],
    groups: ['groups'],
  },
  acrValues: ['urn:hospital:loa:password', 'urn:hospital:loa:mfa'],
  conformIdTokenClaims: !settings.groups_in_id_token,
  features: { devInteractions: { enabled: false }, backchannelLogout: { enabled: true } },
  pkce: { methods: ['S256'], required: () => true },
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  async findAccount(ctx, sub) {
    const person = bySub(sub);
    if (!person) return undefined;
    return {
      accountId: sub,
      async claims() {
        return { sub, name: person.name, preferred_username: person.login, groups: person.groups };
      },
    };
  },
};

const server = http.createServer();
server.listen(0, '127.0.0.1', () => {
  const issuer = `http://127.0.0.1:${server.address().port}`;
  configuration.clients[0].backchannel_logout_uri = `${issuer}/_test/backchannel`;
  const provider = new Provider(issuer, configuration);
  provider.on('server_error', (ctx, err) => console.error('server_error', err));

  provider.use(async (ctx, next) => {
    await next();
    if (ctx.path === '/token' && ctx.status === 200 && ctx.body && ctx.body.id_token) {
      const genuine = ctx.body.id_token;
      if (nextMode) {
        const mode = nextMode;
        nextMode = null;
        ctx.body = { ...ctx.body, id_token: await spoil(genuine, mode) };
      }
      lastIdToken = genuine;
    }
    if (ctx.path === '/me' && ctx.status === 200 && nextUserinfoOther) {
      nextUserinfoOther = false;
      ctx.body = { ...ctx.body, sub: 'someone-else', groups: ['nicu-admins'] };
    }
  });

  const callback = provider.callback();

  async function interaction(req, res, uid, action) {
    const details = await provider.interactionDetails(req, res);
    if (details.uid !== uid) throw new Error('interaction mismatch');
    if (req.method === 'GET') {
      res.setHeader('content-type', 'text/html; charset=utf-8');
      if (details.prompt.name === 'login') {
        res.end(page('Hospital sign-in', `<h1>Hospital sign-in</h1>
<form method="post" action="/interaction/${uid}/login">
<input name="login"> <input name="amr" value="pwd"> <input name="acr" value="">
<button type="submit">Sign in</button></form>`));
      } else {
        res.end(page('Allow Cradle', `<h1>Allow Cradle to know who you are?</h1>
<form method="post" action="/interaction/${uid}/confirm"><button type="submit">Allow</button></form>`));
      }
      return;
    }
    const form = new URLSearchParams(await readBody(req));
    if (action === 'login') {
      const person = people.get(form.get('login'));
      if (!person) {
        res.statusCode = 200;
        res.setHeader('content-type', 'text/html; charset=utf-8');
        res.end(page('Hospital sign-in', '<p class="error">Unknown person.</p>'));
        return;
      }
      const amr = (form.get('amr') || '').split(',').map((s) => s.trim()).filter(Boolean);
      const login = { accountId: person.sub, amr };
      if (form.get('acr')) login.acr = form.get('acr');
      await provider.interactionFinished(req, res, { login }, { mergeWithLastSubmission: false });
      return;
    }
    if (action === 'confirm') {
      const { prompt: { details: missing }, params, session: { accountId } } = details;
      const grant = details.grantId
        ? await provider.Grant.find(details.grantId)
        : new provider.Grant({ accountId, clientId: params.client_id });
      if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
      if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
      const grantId = await grant.save();
      await provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
      return;
    }
    res.statusCode = 404;
    res.end();
  }

  async function control(req, res, path) {
    if (path === '/_test/backchannel') {
      logoutTokens.push(new URLSearchParams(await readBody(req)).get('logout_token'));
      res.statusCode = 200;
      res.end();
      return;
    }
    if (path === '/_test/last-id-token') {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify(lastIdToken));
      return;
    }
    if (path === '/_test/logout-tokens') {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify(logoutTokens));
      logoutTokens = [];
      return;
    }
    const body = JSON.parse((await readBody(req)) || '{}');
    if (path === '/_test/sign') {
      // Any claims, signed with the provider's key: for tokens that are genuine but wrong in what they say.
      const now = Math.floor(Date.now() / 1000);
      const claims = { iss: issuer, aud: settings.client_id, iat: now, exp: now + 120, ...body };
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify(await resign(claims, signingKey, { alg: 'RS256', kid: 'hospital-1', typ: 'logout+jwt' })));
      return;
    }
    if (path === '/_test/next-token') {
      nextMode = body.mode;
    } else if (path === '/_test/next-userinfo') {
      nextUserinfoOther = true;
    } else if (path.startsWith('/_test/people/')) {
      const person = people.get(decodeURIComponent(path.slice('/_test/people/'.length)));
      if (!person) {
        res.statusCode = 404;
        res.end();
        return;
      }
      person.groups = body.groups;
    } else {
      res.statusCode = 404;
      res.end();
      return;
    }
    res.statusCode = 204;
    res.end();
  }

  server.on('request', async (req, res) => {
    const url = new URL(req.url, issuer);
    try {
      const match = url.pathname.match(/^\/interaction\/([^/]+)(?:\/(login|confirm))?$/);
      if (match) {
        await interaction(req, res, match[1], match[2]);
      } else if (url.pathname.startsWith('/_test/')) {
        await control(req, res, url.pathname);
      } else {
        callback(req, res);
      }
    } catch (err) {
      console.error(err);
      res.statusCode = 500;
      res.end(String(err));
    }
  });

  process.stdout.write(`${JSON.stringify({ issuer })}\n`);
});

for (const signal of ['SIGTERM', 'SIGINT']) process.on(signal, () => server.close(() => process.exit(0)));
