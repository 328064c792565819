// A real OpenID Connect provider for the single sign-on tests: oidc-provider with one client and
// the test users of users.json, its built-in development login page, plain HTTP on loopback.
// Started by tests/support/oidc_provider.py: PORT, CLIENT_ID, CLIENT_SECRET, REDIRECT_URI, and for
// single logout POST_LOGOUT_REDIRECT_URI (RP-initiated logout returns there) and
// BACKCHANNEL_LOGOUT_URI (where a logout at the provider is posted as a logout token).
import { readFileSync } from 'node:fs';
import Provider from 'oidc-provider';

const port = Number(process.env.PORT);
const issuer = `http://127.0.0.1:${port}`;
const users = JSON.parse(readFileSync(new URL('./users.json', import.meta.url), 'utf8'));
const scopes = 'openid profile email groups';

const provider = new Provider(issuer, {
  clients: [{
    client_id: process.env.CLIENT_ID,
    client_secret: process.env.CLIENT_SECRET,
    redirect_uris: [process.env.REDIRECT_URI],
    grant_types: ['authorization_code'],
    response_types: ['code'],
    post_logout_redirect_uris: [process.env.POST_LOGOUT_REDIRECT_URI],
    backchannel_logout_uri: process.env.BACKCHANNEL_LOGOUT_URI,
    // ID tokens and logout tokens carry the provider's session id (sid).
    backchannel_logout_session_required: true,
  }],
  claims: {
    openid: ['sub'],
    profile: ['name', 'preferred_username'],
    email: ['email', 'email_verified'],
    groups: ['groups'],
  },
  // The development login page takes any password: the login name picks the test user.
  // The development login page makes the login name the account id, which is also the sub of
  // logout tokens; ID tokens carry the user's own sub (a logout token names the session by sid).
  async findAccount(ctx, id) {
    const user = users[id];
    if (!user) return undefined;
    return { accountId: id, async claims() { return { ...user.claims, sub: user.sub }; } };
  },
  // A first-party client: no consent page, the scopes asked for are granted.
  async loadExistingGrant(ctx) {
    const grantId = ctx.oidc.result?.consent?.grantId || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
    if (grantId) return ctx.oidc.provider.Grant.find(grantId);
    const grant = new ctx.oidc.provider.Grant({ clientId: ctx.oidc.client.clientId, accountId: ctx.oidc.session.accountId });
    grant.addOIDCScope(scopes);
    await grant.save();
    return grant;
  },
  cookies: { keys: ['aperture-test-provider-cookie-key'] },
  features: {
    devInteractions: { enabled: true },
    rpInitiatedLogout: { enabled: true },
    backchannelLogout: { enabled: true },
  },
});

// Said in the provider's log, which a failing test shows.
provider.on('backchannel.success', (ctx, client, accountId, sid) => console.log(`back-channel logout sent: ${accountId} ${sid}`));
provider.on('backchannel.error', (ctx, error) => console.log(`back-channel logout failed: ${error.message}`));

provider.listen(port, '127.0.0.1', () => console.log(`oidc-provider ready at ${issuer}`));
