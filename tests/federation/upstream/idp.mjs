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

import Provider from 'oidc-provider';

const config = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const issuer = `http://127.0.0.1:${config.port}`;

function accounts() {
  return JSON.parse(readFileSync(config.accounts_file, 'utf8'));
}

const provider = new Provider(issuer, {
  clients: config.clients,
  jwks: config.jwks,
  cookies: { keys: [randomBytes(32).toString('hex')] },
  claims: {
    openid: ['sub'],
    profile: ['name', 'given_name', 'family_name', 'locale'],
    email: ['email', 'email_verified'],
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
      'locale', 'groups', 'department']);
    await grant.save();
    return grant;
  },
  pkce: { required: () => true },
  conformIdTokenClaims: false,
  features: { devInteractions: { enabled: true } },
  ttl: { IdToken: 300 },
});
provider.proxy = false;

provider.listen(config.port, '127.0.0.1', () => {
  console.log(`ready ${issuer}`);
});
