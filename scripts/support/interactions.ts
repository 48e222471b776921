// Test-only interaction routes for an idp under test or under a benchmark: they sign in through
// the real login service and finish the interaction without the HTML login pages, so flows can
// be driven by a plain HTTP client.
import express, { type Express } from 'express';
import type Provider from 'oidc-provider';

/**
 * The test-only interaction route: POST /interaction/:uid/test-login {username, password}
 * signs in through the real login service; POST /interaction/:uid/test-consent grants exactly
 * what the prompt says is missing (what the consent page shows).
 */
export function testInteractions(login: (u: string, p: string) => Promise<{ ok: true; user: { id: string } } | { ok: false; unavailable?: boolean }>) {
  return (app: Express, provider: Provider) => {
    app.get('/interaction/:uid/test-prompt', async (req, res, next) => {
      try {
        const details = await provider.interactionDetails(req, res);
        res.json({ name: details.prompt.name, details: details.prompt.details });
      } catch (error) {
        next(error);
      }
    });
    app.post('/interaction/:uid/test-login', express.json(), async (req, res, next) => {
      try {
        await provider.interactionDetails(req, res);
        const body = req.body as { username?: string; password?: string };
        const outcome = await login(String(body.username), String(body.password));
        if (!outcome.ok) {
          // "Not decided" (adapter down, hashing threads busy) is not a wrong password: say which.
          if ('unavailable' in outcome && outcome.unavailable) res.status(503).json({ error: 'temporarily_unavailable' });
          else res.status(401).json({ error: 'login failed' });
          return;
        }
        await provider.interactionFinished(req, res, { login: { accountId: outcome.user.id } }, { mergeWithLastSubmission: false });
      } catch (error) {
        next(error);
      }
    });
    app.post('/interaction/:uid/test-consent', async (req, res, next) => {
      try {
        const details = await provider.interactionDetails(req, res);
        const accountId = details.session?.accountId;
        const clientId = String(details.params.client_id);
        if (!accountId) throw new Error('consent before login');
        const grant = details.grantId ? await provider.Grant.find(details.grantId) : new provider.Grant({ accountId, clientId });
        if (!grant) throw new Error('grant vanished');
        const missing = details.prompt.details as {
          missingOIDCScope?: string[];
          missingOIDCClaims?: string[];
          missingResourceScopes?: Record<string, string[]>;
        };
        if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
        if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
        for (const [resource, scopes] of Object.entries(missing.missingResourceScopes ?? {})) grant.addResourceScope(resource, scopes.join(' '));
        const grantId = await grant.save();
        await provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
      } catch (error) {
        next(error);
      }
    });
  };
}
