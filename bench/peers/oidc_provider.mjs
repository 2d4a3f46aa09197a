// npm's oidc-provider (a certified OpenID Provider) configured like Foyer's bench tenant, for
// the peer figures of bench/: a confidential web client (code + PKCE, RS256 ID tokens) and a
// machine client (client_credentials). Access tokens are RS256 JWTs for the bench API on
// both servers (resource indicators with accessTokenFormat "jwt"), so a token response
// carries the same signatures as Foyer's. Refresh tokens rotate on every use, as Foyer's do.
// oidc-provider's userinfo endpoint refuses tokens issued for a resource server, so a third
// client (bench-rp-userinfo) gets opaque access tokens for it. Storage is oidc-provider's
// default in-process adapter. Usage: node oidc_provider.mjs PORT CLIENT_SECRET
import { generateKeyPairSync, randomBytes } from 'node:crypto';

import Provider from 'oidc-provider';

const [port, secret] = process.argv.slice(2);
const issuer = `http://localhost:${port}`;
const audience = 'urn:bench:api';

function jwk(type, options, alg) {
  const { privateKey } = generateKeyPairSync(type, options);
  return { ...privateKey.export({ format: 'jwk' }), alg, use: 'sig', kid: `${alg}-bench` };
}

const provider = new Provider(issuer, {
  clients: [
    {
      client_id: 'bench-rp',
      client_secret: secret,
      redirect_uris: ['http://127.0.0.1:9/callback'],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
      id_token_signed_response_alg: 'RS256',
    },
    {
      client_id: 'bench-rp-userinfo',
      client_secret: secret,
      redirect_uris: ['http://127.0.0.1:9/callback'],
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
      id_token_signed_response_alg: 'RS256',
    },
    {
      client_id: 'bench-m2m',
      client_secret: secret,
      redirect_uris: [],
      response_types: [],
      grant_types: ['client_credentials'],
      token_endpoint_auth_method: 'client_secret_basic',
      scope: 'api.read api.write',
    },
  ],
  jwks: {
    keys: [
      jwk('rsa', { modulusLength: 2048 }, 'RS256'),
      jwk('ec', { namedCurve: 'P-256' }, 'ES256'),
    ],
  },
  cookies: { keys: [randomBytes(32).toString('hex')] },
  claims: {
    openid: ['sub'],
    profile: ['name'],
    email: ['email', 'email_verified'],
  },
  scopes: ['openid', 'offline_access', 'api.read', 'api.write'],
  async findAccount(ctx, id) {
    return {
      accountId: id,
      async claims() {
        return { sub: id, name: 'Ada Bench', email: id, email_verified: true };
      },
    };
  },
  pkce: { required: () => true },
  rotateRefreshToken: () => true,
  features: {
    devInteractions: { enabled: true },
    clientCredentials: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: (ctx, client) => (client.clientId === 'bench-rp-userinfo' ? undefined : audience),
      useGrantedResource: () => true,
      getResourceServerInfo: () => ({
        scope: 'api.read api.write',
        audience,
        accessTokenFormat: 'jwt',
        jwt: { sign: { alg: 'RS256' } },
      }),
    },
  },
});

provider.listen(Number(port), '127.0.0.1', () => {
  console.log(`oidc-provider listening on ${issuer}`);
});
