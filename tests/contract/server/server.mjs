// The real authorization server of our contract tests: panva's oidc-provider (OpenID Certified), configured to
// answer at the reference CLI's paths on 127.0.0.1 only. Nobody on this project wrote the OAuth parts: every
// OAuth endpoint below is oidc-provider's own. Ours are only:
//   * `x-api-key` handling on /v3/users/me (HeyGen's API-key path; the bearer path is oidc-provider's userinfo),
//   * /_test/stats and /_test/reset (counters read by the tests: token requests per grant, invalid_grant, ...),
//   * /_test/script (queue canned responses for a path, e.g. a device-flow `slow_down`, a 503, a 307).
//
// Configuration comes from environment variables (all optional):
//   PORT (0 = ephemeral), ROTATE (1 = rotate refresh tokens, the default; 0 = keep them),
//   TTL_ACCESS, TTL_CODE, TTL_REFRESH, TTL_DEVICE (seconds), CLIENT_ID, API_KEYS (comma-separated).
// It prints one line on stdout when ready: `READY http://127.0.0.1:<port>`; everything else goes to stderr.

import http from 'node:http';
import Provider, { errors } from 'oidc-provider';

const env = process.env;
const CLIENT_ID = env.CLIENT_ID || 'hyperframes-cli-test';
const ROTATE = env.ROTATE !== '0';
const API_KEYS = new Set((env.API_KEYS || 'hg_contract_test_key_0001').split(',').filter(Boolean));
const ttl = (name, fallback) => Number(env[name] || fallback);

const stats = { token: {}, invalid_grant: 0, revocations: 0, userinfo: 0, grants_revoked: 0 };
const scripted = new Map(); // path -> [{status, body, headers}]

function resetStats() {
  stats.token = {};
  stats.invalid_grant = 0;
  stats.revocations = 0;
  stats.userinfo = 0;
  stats.grants_revoked = 0;
}

async function readJson(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  return chunks.length ? JSON.parse(Buffer.concat(chunks).toString('utf8')) : {};
}

const server = http.createServer();
server.listen(Number(env.PORT || 0), '127.0.0.1', () => {
  const { port } = server.address();
  const issuer = `http://127.0.0.1:${port}`;

  const provider = new Provider(issuer, {
    clients: [{
      client_id: CLIENT_ID,
      client_name: 'hyperframes-auth contract tests',
      application_type: 'native',
      token_endpoint_auth_method: 'none',
      // RFC 8252 §7.3: registered without a port, so any loopback port is accepted.
      redirect_uris: ['http://127.0.0.1/oauth/callback', 'http://[::1]/oauth/callback'],
      grant_types: ['authorization_code', 'refresh_token', 'urn:ietf:params:oauth:grant-type:device_code'],
      response_types: ['code'],
    }],
    pkce: { required: () => true },
    routes: {
      authorization: '/oauth/authorize',
      token: '/v1/oauth/token',
      revocation: '/v1/oauth/revoke',
      device_authorization: '/v1/oauth/device_authorization',
      userinfo: '/v3/users/me',
      code_verification: '/device',
    },
    features: {
      devInteractions: { enabled: true },
      revocation: { enabled: true },
      userinfo: { enabled: true },
      deviceFlow: { enabled: true },
    },
    claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['preferred_username', 'name'] },
    async findAccount(ctx, id) {
      return {
        accountId: id,
        async claims() {
          return { sub: id, email: `${id}@example.test`, email_verified: true, preferred_username: id, name: id };
        },
      };
    },
    issueRefreshToken: async (ctx, client) => client.grantTypeAllowed('refresh_token'),
    expiresWithSession: async () => false,
    rotateRefreshToken: () => ROTATE,
    clockTolerance: 0,
    ttl: {
      AccessToken: ttl('TTL_ACCESS', 3600),
      AuthorizationCode: ttl('TTL_CODE', 60),
      RefreshToken: ttl('TTL_REFRESH', 86400),
      DeviceCode: ttl('TTL_DEVICE', 600),
      Grant: 86400,
      Session: 86400,
      Interaction: 600,
      IdToken: 3600,
    },
    cookies: { keys: ['contract-tests-only-not-a-secret'] },
  });
  provider.proxy = false;

  provider.on('grant.success', (ctx) => {
    const grant = ctx.oidc.params?.grant_type || 'unknown';
    stats.token[grant] = (stats.token[grant] || 0) + 1;
  });
  provider.on('grant.error', (ctx, err) => {
    const grant = ctx.oidc?.params?.grant_type || 'unknown';
    stats.token[grant] = (stats.token[grant] || 0) + 1;
    if (err.error === 'invalid_grant') stats.invalid_grant += 1;
    console.error(`[server] grant.error ${grant}: ${err.error} (${err.error_detail || err.message})`);
  });
  provider.on('grant.revoked', () => { stats.grants_revoked += 1; });
  provider.on('revocation.error', (ctx, err) => console.error(`[server] revocation.error: ${err.message}`));
  provider.on('authorization.error', (ctx, err) => console.error(`[server] authorization.error: ${err.error} (${err.error_detail || err.message})`));
  provider.on('server_error', (ctx, err) => console.error(`[server] server_error: ${err.stack}`));

  provider.use(async (ctx, next) => {
    if (ctx.path === '/_test/stats') {
      ctx.body = stats;
      return;
    }
    if (ctx.path === '/_test/reset' && ctx.method === 'POST') {
      resetStats();
      scripted.clear();
      ctx.body = { ok: true };
      return;
    }
    if (ctx.path === '/_test/script' && ctx.method === 'POST') {
      const { path, responses } = await readJson(ctx.req);
      scripted.set(path, [...(scripted.get(path) || []), ...responses]);
      ctx.body = { ok: true };
      return;
    }
    const queue = scripted.get(ctx.path);
    if (queue && queue.length) {
      const canned = queue.shift();
      ctx.status = canned.status;
      for (const [name, value] of Object.entries(canned.headers || {})) ctx.set(name, value);
      ctx.body = canned.body ?? '';
      return;
    }
    if (ctx.path === '/v3/users/me') {
      stats.userinfo += 1;
      const key = ctx.get('x-api-key');
      if (key) {
        if (API_KEYS.has(key)) {
          ctx.body = { code: 100, message: 'Success', data: { username: 'api-key-user', email: 'api-key-user@example.test' } };
        } else {
          ctx.status = 401;
          ctx.body = { code: 401, message: 'Invalid API key' };
        }
        return;
      }
    }
    if (ctx.path === '/v1/oauth/revoke' && ctx.method === 'POST') stats.revocations += 1;
    await next();
  });

  const callback = provider.callback();
  server.on('request', callback);
  console.log(`READY ${issuer}`);
});

for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => { server.close(); process.exit(0); });
}
void errors;
