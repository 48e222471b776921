// What the chaos load's users do, step by step: view a legacy page, sign in on the idp's login
// page through the gateway (the session bridge then opens the PHP session), change the password
// on the idp's account page; and an app's: sign a user in (authorization code with PKCE), refresh
// its tokens, call the monolith's API with them. A step that does not get the answer it should
// throws StepFailed.
import { authorizeUrl, hiddenValue } from '../form-client.ts';
import type { Agent, Answer } from './agent.ts';

export class StepFailed extends Error {
  readonly step: string;
  readonly answer: Answer;
  constructor(step: string, answer: Answer) {
    super(`${step}: HTTP ${answer.status} ${summary(answer)}`);
    this.step = step;
    this.answer = answer;
  }
}

/** What a page says it is (its title, or the JSON error code): enough to tell answers apart, never a secret. */
export function summary(answer: Answer): string {
  const title = /<title>([^<]*)<\/title>/.exec(answer.body)?.[1];
  if (title !== undefined) return JSON.stringify(title.trim());
  try {
    const error = (JSON.parse(answer.body) as { error?: unknown }).error;
    if (typeof error === 'string') return JSON.stringify({ error });
  } catch {
    // neither a page nor JSON
  }
  return answer.location === undefined ? `(${answer.body.length} bytes)` : `-> ${answer.location.split('?')[0]}`;
}

function expect(step: string, answer: Answer, ok: (a: Answer) => boolean): Answer {
  if (!ok(answer)) throw new StepFailed(step, answer);
  return answer;
}

const isRedirect = (a: Answer) => a.status >= 300 && a.status < 400 && a.location !== undefined;

/** Follows redirects until a page, or until one leads to `stopAt` (a path prefix), which is then not requested. */
async function follow(agent: Agent, first: Answer, stopAt: string): Promise<Answer> {
  let answer = first;
  for (let hop = 0; hop < 12 && isRedirect(answer) && !answer.location!.startsWith(stopAt); hop++) answer = await agent.request(answer.location!);
  return answer;
}

export async function viewPage(agent: Agent, path: string): Promise<void> {
  expect(`GET ${path}`, await agent.request(path), (a) => a.status === 200);
}

const CALLBACK = '/auth/callback';
const interactionOf = (a: Answer) => /^\/interaction\/([^/?#]+)$/.exec(a.path)?.[1];

/**
 * From the idp's login page: submits `login`/`password`, allows the consent page if one comes,
 * and follows redirects until one leads to `stopAt` (the client's redirect URI), which it returns.
 */
async function passIdpPages(agent: Agent, loginPage: Answer, login: string, password: string, stopAt: string): Promise<Answer> {
  const uid = interactionOf(loginPage)!;
  const submitted = await agent.request(`/interaction/${uid}/login`, { csrf: hiddenValue(loginPage.body, 'csrf'), identifier: login, password });
  let next = expect(
    'POST login',
    await follow(agent, expect('POST login', submitted, isRedirect), stopAt),
    (a) => isRedirect(a) || (a.status === 200 && interactionOf(a) !== undefined),
  );
  if (!isRedirect(next)) {
    // The consent page (the client is not first-party).
    const consent = interactionOf(next)!;
    const allowed = await agent.request(`/interaction/${consent}/confirm`, { csrf: hiddenValue(next.body, 'csrf'), decision: 'allow' });
    next = await follow(agent, expect('POST consent', allowed, isRedirect), stopAt);
  }
  return expect('back to the client', next, (a) => isRedirect(a) && a.location!.startsWith(stopAt));
}

const isLoginPage = (a: Answer) => a.status === 200 && interactionOf(a) !== undefined && a.body.includes('name="identifier"');

/** Signs in at the gateway on the idp's login page with `login`/`password`; ends on account.php, signed in on the monolith. */
export async function signIn(agent: Agent, login: string, password: string): Promise<void> {
  const start = expect('GET /auth/login', await agent.request('/auth/login?return_to=/account.php'), isRedirect);
  const loginPage = expect('authorize', await follow(agent, start, CALLBACK), isLoginPage);
  const next = await passIdpPages(agent, loginPage, login, password, CALLBACK);
  expect('GET /auth/callback', await agent.request(next.location!), (a) => a.status === 302 && a.location === '/account.php');
  const account = await agent.request('/account.php');
  expect('GET /account.php', account, (a) => a.status === 200 && a.body.includes(`<td id="account-login">${login}</td>`));
}

export interface AppClient {
  clientId: string;
  /** Its redirect URI: the path of it is where the idp's redirects stop (the site is on another origin). */
  redirectUri: string;
  scope: string;
}

export interface Tokens {
  access: string;
  refresh: string;
}

function tokensOf(step: string, answer: Answer): Tokens {
  const body = expect(step, answer, (a) => a.status === 200).body;
  const { access_token: access, refresh_token: refresh } = JSON.parse(body) as { access_token?: string; refresh_token?: string };
  if (!access || !refresh) throw new StepFailed(`${step}: no access and refresh token`, answer);
  return { access, refresh };
}

/** An app signs `login` in: authorization code with PKCE, through the idp's pages, then the code for tokens. */
export async function appSignIn(agent: Agent, app: AppClient, login: string, password: string): Promise<Tokens> {
  // offline_access is only granted with consent asked for.
  const { url, verifier, state } = authorizeUrl(app.clientId, app.redirectUri, app.scope, { prompt: 'consent' });
  const callback = new URL(app.redirectUri).pathname;
  const loginPage = expect('authorize', await follow(agent, await agent.request(url), callback), isLoginPage);
  const back = await passIdpPages(agent, loginPage, login, password, callback);
  const params = new URL(back.location!, 'https://app.invalid').searchParams;
  const code = params.get('code');
  if (!code || params.get('state') !== state) throw new StepFailed('authorization answer: no code, or not our state', back);
  const form = { grant_type: 'authorization_code', code, redirect_uri: app.redirectUri, code_verifier: verifier, client_id: app.clientId };
  return tokensOf('POST /token (code)', await agent.request('/token', form));
}

/** A refresh token for new tokens (the old refresh token is used up). */
export async function refreshTokens(agent: Agent, app: AppClient, refresh: string): Promise<Tokens> {
  return tokensOf('POST /token (refresh)', await agent.request('/token', { grant_type: 'refresh_token', refresh_token: refresh, client_id: app.clientId }));
}

/** The monolith's API with the access token: it must name `login` (the gateway's X-Remote-User from the token). */
export async function apiCall(agent: Agent, access: string, login: string): Promise<void> {
  const answer = await agent.request('/api/me.php', undefined, { authorization: `Bearer ${access}` });
  const names = (a: Answer) => {
    try {
      return (JSON.parse(a.body) as { login?: unknown }).login === login;
    } catch {
      return false;
    }
  };
  expect('GET /api/me.php', answer, (a) => a.status === 200 && names(a));
}

/** The idp's password change, signed in; resolves once the idp says it was changed. */
export async function changePassword(agent: Agent, current: string, next: string): Promise<void> {
  const form = expect('GET /account/password', await agent.request('/account/password'), (a) => a.status === 200);
  const fields = { csrf: hiddenValue(form.body, 'csrf'), 'current-password': current, 'new-password': next, 'confirm-password': next };
  expect('POST /account/password', await agent.request('/account/password', fields), (a) => a.status === 200 && a.body.includes('Your password was changed'));
}
