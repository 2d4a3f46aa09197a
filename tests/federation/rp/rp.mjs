// A third-party web application signing in through Foyer with npm's openid-client (an
// OpenID Certified relying-party library): discovery, code + PKCE (S256) with state and
// nonce, the code exchanged at its callback and the ID token validated by the library.
//
// Usage: node rp.mjs CONFIG.json, where CONFIG holds {port, issuer, client_id,
// client_secret, params}; `params` are added to every authorization request (e.g.
// {"organization": "x"}). It listens on 127.0.0.1:port and then prints "listening PORT".
//
//   GET /login[?prompt=login]  -> 302 to Foyer's /authorize (a transaction cookie is set)
//   GET /callback              -> exchanges the code; 200 JSON {validated, claims} or 400 JSON {error}
import { readFileSync } from "node:fs";
import { createServer } from "node:http";
import { randomUUID } from "node:crypto";
import * as client from "openid-client";

const settings = JSON.parse(readFileSync(process.argv[2], "utf8"));
const config = await client.discovery(
  new URL(settings.issuer),
  settings.client_id,
  undefined,
  client.ClientSecretBasic(settings.client_secret),
  {
    // Foyer runs on http://localhost in the tests: openid-client refuses plain http
    // unless told otherwise; acceptable on loopback only, never for a real deployment.
    // The non-repudiation checks make it verify the ID token's signature with Foyer's
    // JWKS (by default it trusts the token endpoint's TLS for that).
    execute: [client.allowInsecureRequests, client.enableNonRepudiationChecks],
  },
);
const transactions = new Map();

function send(response, status, body) {
  response.writeHead(status, { "Content-Type": "application/json" });
  response.end(JSON.stringify(body));
}

function cookie(request, name) {
  for (const part of (request.headers.cookie || "").split(";")) {
    const [key, ...value] = part.trim().split("=");
    if (key === name) return value.join("=");
  }
  return undefined;
}

const server = createServer(async (request, response) => {
  const here = new URL(request.url, `http://127.0.0.1:${server.address().port}`);
  const redirectUri = `${here.origin}/callback`;
  try {
    if (here.pathname === "/login") {
      const verifier = client.randomPKCECodeVerifier();
      const tx = {
        verifier,
        state: client.randomState(),
        nonce: client.randomNonce(),
      };
      const id = randomUUID();
      transactions.set(id, tx);
      const url = client.buildAuthorizationUrl(config, {
        redirect_uri: redirectUri,
        scope: "openid email profile",
        code_challenge: await client.calculatePKCECodeChallenge(verifier),
        code_challenge_method: "S256",
        state: tx.state,
        nonce: tx.nonce,
        ...(settings.params || {}),
        ...Object.fromEntries(here.searchParams),
      });
      response.writeHead(302, {
        Location: url.href,
        "Set-Cookie": `rp_tx=${id}; Path=/; HttpOnly; SameSite=Lax`,
      });
      response.end();
    } else if (here.pathname === "/callback") {
      const id = cookie(request, "rp_tx");
      const tx = transactions.get(id);
      if (!tx) return send(response, 400, { error: "no transaction" });
      transactions.delete(id);
      const tokens = await client.authorizationCodeGrant(config, here, {
        pkceCodeVerifier: tx.verifier,
        expectedState: tx.state,
        expectedNonce: tx.nonce,
        idTokenExpected: true,
      });
      send(response, 200, { validated: true, nonce: tx.nonce, claims: tokens.claims() });
    } else {
      send(response, 404, { error: "not found" });
    }
  } catch (error) {
    const cause = error.cause?.message ? ` (${error.cause.message})` : "";
    send(response, 400, { error: `${error.name}: ${error.message}${cause}`, code: error.code });
  }
});
server.listen(settings.port, "127.0.0.1", () => {
  console.log(`listening ${server.address().port}`);
});
