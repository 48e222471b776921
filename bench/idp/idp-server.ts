// One idp process for `npm run bench:idp`: the real startIdp, configured by the environment
// like idp/main.ts, with the test-only interaction route so the bench can sign users in
// without the HTML pages.
import { startIdp } from '../../idp/app.ts';
import { loadIdpConfig } from '../../idp/config.ts';
import { testInteractions } from '../../scripts/support/interactions.ts';

const service = await startIdp(loadIdpConfig(), {
  mountInteractions: (app, provider, { login }) => testInteractions((u, p) => login.login(u, p))(app, provider),
});
console.log(`listening ${service.url}`);
process.once('SIGTERM', () => void service.stop().then(() => process.exit(0)));
