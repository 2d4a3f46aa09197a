// The customer's enterprise identity provider in Foyer's federation tests: npm's
// oidc-provider (a certified OpenID Provider) on a loopback port.
//
// Usage: node idp.mjs CONFIG_FILE
// CONFIG_FILE (JSON, written by the test fixture) holds {port, clients, accounts_file}.
// The accounts file ({sub: {claims...}}) is read again at each sign-in, so a test can change
// what the IdP says about a person (an email changed upstream) between two sign-ins.
// Sign-in is oidc-provider's development login form (any password; the login is the `sub`),
// with consent granted at once, as an enterprise IdP does for its own applications. Prints
// "ready <issuer>" once listening.
import { readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';

import Provider from 'oidc-provider';

const config = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const origin = `http://127.0.0.1:${config.port}`;
// With "tenant", the IdP plays one tenant of a multi-tenant IdP (Entra ID): its issuer is
// /<tenant>/v2.0 and /organizations/v2.0 publishes the discovery with a {tenantid} issuer.
const prefix = config.tenant ? `/${config.tenant}/v2.0` : '';
const issuer = origin + prefix;

function accounts() {
  return JSON.parse(readFileSync(config.accounts_file, 'utf8'));
}

const provider = new Provider(issuer, {
  clients: config.clients,
  jwks: config.jwks,
  cookies: { keys: [randomBytes(32).toString('hex')] },
  claims: {
    openid: ['sub', 'hd', 'tid'],
    profile: ['name', 'given_name', 'family_name', 'locale'],
    email: ['email', 'email_verified', 'xms_edov'],
    groups: ['groups'],
    department: ['department'],
  },
  scopes: ['openid', 'profile', 'email', 'groups', 'department'],
  async findAccount(ctx, sub) {
    const known = accounts()[sub];
    if (!known) return undefined;
    return {
      accountId: sub,
      async claims() {
        return { ...known, sub };
      },
    };
  },
  // an enterprise IdP consents for its own applications: no consent page
  async loadExistingGrant(ctx) {
    const grantId = ctx.oidc.result?.consent?.grantId
      || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
    if (grantId) return ctx.oidc.provider.Grant.find(grantId);
    const grant = new ctx.oidc.provider.Grant({
      clientId: ctx.oidc.client.clientId,
      accountId: ctx.oidc.session.accountId,
    });
    grant.addOIDCScope('openid profile email groups department');
    grant.addOIDCClaims(['email', 'email_verified', 'name', 'given_name', 'family_name',
      'locale', 'groups', 'department', 'hd', 'tid', 'xms_edov']);
    await grant.save();
    return grant;
  },
  pkce: { required: () => true },
  conformIdTokenClaims: false,
  features: { devInteractions: { enabled: true } },
  ttl: { IdToken: 300 },
});
provider.proxy = false;

if (!prefix) {
  provider.listen(config.port, '127.0.0.1', () => {
    console.log(`ready ${issuer}`);
  });
} else {
  const serve = provider.callback();
  createServer(async (req, res) => {
    if (req.url.startsWith('/organizations/v2.0/.well-known/openid-configuration')) {
      const doc = await (await fetch(`${issuer}/.well-known/openid-configuration`)).json();
      doc.issuer = `${origin}/{tenantid}/v2.0`;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(doc));
      return;
    }
    if (req.url === prefix || req.url.startsWith(`${prefix}/`)) {
      req.originalUrl = req.url;
      req.url = req.url.slice(prefix.length) || '/';
      serve(req, res);
      return;
    }
    res.writeHead(404);
    res.end();
  }).listen(config.port, '127.0.0.1', () => {
    console.log(`ready ${issuer}`);
  });
}
