// What the chaos load's users do, step by step: view a legacy page, sign in on the idp's login
// page through the gateway (the session bridge then opens the PHP session), change the password
// on the idp's account page. A step that does not get the answer it should throws StepFailed.
import { hiddenValue } from '../idp-pages/browser-like.ts';
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

/** Signs in at the gateway on the idp's login page with `login`/`password`; ends on account.php, signed in on the monolith. */
export async function signIn(agent: Agent, login: string, password: string): Promise<void> {
  const start = expect('GET /auth/login', await agent.request('/auth/login?return_to=/account.php'), isRedirect);
  const loginPage = expect('authorize', await follow(agent, start, CALLBACK), (a) => a.status === 200 && interactionOf(a) !== undefined && a.body.includes('name="identifier"'));
  const uid = interactionOf(loginPage)!;
  const submitted = await agent.request(`/interaction/${uid}/login`, { csrf: hiddenValue(loginPage.body, 'csrf'), identifier: login, password });
  let next = expect('POST login', await follow(agent, expect('POST login', submitted, isRedirect), CALLBACK), (a) => isRedirect(a) || (a.status === 200 && interactionOf(a) !== undefined));
  if (!isRedirect(next)) {
    // The consent page (the gateway's client is not first-party).
    const consent = interactionOf(next)!;
    const allowed = await agent.request(`/interaction/${consent}/confirm`, { csrf: hiddenValue(next.body, 'csrf'), decision: 'allow' });
    next = await follow(agent, expect('POST consent', allowed, isRedirect), CALLBACK);
  }
  expect('back to the gateway', next, (a) => isRedirect(a) && a.location!.startsWith(CALLBACK));
  expect('GET /auth/callback', await agent.request(next.location!), (a) => a.status === 302 && a.location === '/account.php');
  const account = await agent.request('/account.php');
  expect('GET /account.php', account, (a) => a.status === 200 && a.body.includes(`<td id="account-login">${login}</td>`));
}

/** The idp's password change, signed in; resolves once the idp says it was changed. */
export async function changePassword(agent: Agent, current: string, next: string): Promise<void> {
  const form = expect('GET /account/password', await agent.request('/account/password'), (a) => a.status === 200);
  const fields = { csrf: hiddenValue(form.body, 'csrf'), 'current-password': current, 'new-password': next, 'confirm-password': next };
  expect('POST /account/password', await agent.request('/account/password', fields), (a) => a.status === 200 && a.body.includes('Your password was changed'));
}
