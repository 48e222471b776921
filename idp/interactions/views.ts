// The idp's own pages. Plain HTML forms that work without JavaScript, one stylesheet, no
// script. Accessibility: a lang attribute, a label for every field, autocomplete hints, focus
// on the first field or on the error summary, and errors announced and linked to their field.
import { html, type Html } from '../../lib/html.ts';

export const STYLESHEET_PATH = '/interaction/static/idp.css';

export const INCORRECT_LOGIN = 'Incorrect login or password';
export const TRY_AGAIN_LATER = 'Too many attempts. Please wait a moment and try again.';
export const TEMPORARILY_UNAVAILABLE = 'Signing in is temporarily unavailable. Your password was not checked. Please try again in a few minutes.';

export function layout(title: string, body: Html): string {
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>${title}</title>
<link rel="stylesheet" href="${STYLESHEET_PATH}">
</head>
<body>
<main class="card">
${body}
</main>
</body>
</html>
`.value;
}

export interface FieldError {
  field: string;
  message: string;
}

/** The summary at the top of a form: focused on load, announced, each entry a link to its field. */
export function errorSummary(errors: readonly FieldError[]): Html {
  if (!errors.length) return html``;
  return html`<div class="error-summary" id="error-summary" role="alert" aria-live="assertive" aria-labelledby="error-summary-title" tabindex="-1" autofocus>
<h2 id="error-summary-title">There is a problem</h2>
<ul>${errors.map((e) => html`<li><a href="#${e.field}">${e.message}</a></li>`)}</ul>
</div>`;
}

export function hidden(name: string, value: string): Html {
  return html`<input type="hidden" name="${name}" value="${value}">`;
}

export type LoginProblem = 'incorrect' | 'throttled' | 'unavailable' | 'missing-identifier' | 'missing-password' | 'missing-both';

export interface LoginView {
  uid: string;
  csrf: string;
  clientName: string;
  identifier?: string;
  problem?: LoginProblem;
  forgotPasswordUrl?: string;
}

function loginErrors(problem: LoginProblem | undefined): FieldError[] {
  switch (problem) {
    case undefined:
      return [];
    case 'incorrect':
      return [{ field: 'identifier', message: INCORRECT_LOGIN }];
    case 'throttled':
      return [{ field: 'identifier', message: `${INCORRECT_LOGIN}. ${TRY_AGAIN_LATER}` }];
    case 'unavailable':
      return [{ field: 'identifier', message: TEMPORARILY_UNAVAILABLE }];
    case 'missing-identifier':
      return [{ field: 'identifier', message: 'Enter your email address or username' }];
    case 'missing-password':
      return [{ field: 'password', message: 'Enter your password' }];
    case 'missing-both':
      return [
        { field: 'identifier', message: 'Enter your email address or username' },
        { field: 'password', message: 'Enter your password' },
      ];
  }
}

export function fieldError(errors: readonly FieldError[], field: string): { message?: string; attrs: Html } {
  const error = errors.find((e) => e.field === field);
  if (!error) return { attrs: html`` };
  return { message: error.message, attrs: html` aria-invalid="true" aria-describedby="${field}-error"` };
}

export function loginPage(view: LoginView): string {
  const errors = loginErrors(view.problem);
  const id = fieldError(errors, 'identifier');
  const pw = fieldError(errors, 'password');
  // One autofocus per page: the error summary when there is one, else the first empty field.
  const focusIdentifier = !errors.length && !view.identifier;
  const focusPassword = !errors.length && Boolean(view.identifier);
  const base = `/interaction/${encodeURIComponent(view.uid)}`;
  return layout(
    'Sign in',
    html`<h1>Sign in</h1>
<p class="lead">to continue to <strong class="client-name">${view.clientName}</strong></p>
${errorSummary(errors)}
<form method="post" action="${base}/login" novalidate>
${hidden('csrf', view.csrf)}
<div class="field${id.message ? ' field--error' : ''}">
<label for="identifier">Email address or username</label>
${id.message ? html`<p class="field-error" id="identifier-error"><span class="visually-hidden">Error: </span>${id.message}</p>` : ''}
<input id="identifier" name="identifier" type="text" value="${view.identifier ?? ''}" autocomplete="username" autocapitalize="none" autocorrect="off" spellcheck="false" required${id.attrs}${focusIdentifier ? html` autofocus` : ''}>
</div>
<div class="field${pw.message ? ' field--error' : ''}">
<label for="password">Password</label>
${pw.message ? html`<p class="field-error" id="password-error"><span class="visually-hidden">Error: </span>${pw.message}</p>` : ''}
<input id="password" name="password" type="password" autocomplete="current-password" required${pw.attrs}${focusPassword ? html` autofocus` : ''}>
</div>
<button type="submit" class="button">Sign in</button>
</form>
${view.forgotPasswordUrl ? html`<p class="secondary-link"><a href="${view.forgotPasswordUrl}">Forgot password?</a></p>` : ''}
<form method="post" action="${base}/abort" class="cancel">
${hidden('csrf', view.csrf)}
<button type="submit" class="button button--secondary">Cancel and go back</button>
</form>`,
  );
}

export interface ConsentView {
  uid: string;
  csrf: string;
  clientName: string;
  accountName?: string;
  scopes: readonly string[];
  claims: readonly string[];
  resources: readonly { resource: string; scopes: readonly string[] }[];
}

export function consentPage(view: ConsentView, describe: { scope(s: string): string; claim(c: string): string }): string {
  const base = `/interaction/${encodeURIComponent(view.uid)}`;
  return layout(
    `Allow ${view.clientName}?`,
    html`<h1 tabindex="-1" autofocus>Allow <span class="client-name">${view.clientName}</span> to use your account?</h1>
${view.accountName ? html`<p class="lead">You are signed in as <strong>${view.accountName}</strong>.</p>` : ''}
${
  view.scopes.length
    ? html`<h2>${view.clientName} is asking to</h2>
<ul class="permissions">${view.scopes.map((s) => html`<li>${describe.scope(s)} <span class="scope">(${s})</span></li>`)}</ul>`
    : ''
}
${
  view.claims.length
    ? html`<h2>and to see</h2>
<ul class="permissions">${view.claims.map((c) => html`<li>${describe.claim(c)} <span class="scope">(${c})</span></li>`)}</ul>`
    : ''
}
${view.resources.map(
  (r) => html`<h2>Access to <span class="resource">${r.resource}</span></h2>
<ul class="permissions">${r.scopes.map((s) => html`<li>${describe.scope(s)} <span class="scope">(${s})</span></li>`)}</ul>`,
)}
<form method="post" action="${base}/confirm">
${hidden('csrf', view.csrf)}
<div class="actions">
<button type="submit" name="decision" value="allow" class="button">Allow</button>
<button type="submit" name="decision" value="deny" class="button button--secondary">Deny</button>
</div>
</form>`,
  );
}

export interface MessageView {
  title: string;
  message: string;
  detail?: string;
}

export function messagePage(view: MessageView): string {
  return layout(
    view.title,
    html`<h1 tabindex="-1" autofocus>${view.title}</h1>
<p>${view.message}</p>
${view.detail ? html`<p class="detail">${view.detail}</p>` : ''}`,
  );
}

export function logoutPage(view: { form: Html; host: string; clientName?: string }): string {
  // oidc-provider's form holds only its hidden xsrf input; the buttons sit outside it and name
  // it through their `form` attribute, which needs no script.
  return layout(
    'Sign out',
    html`<h1>Sign out?</h1>
<p class="lead">Do you want to sign out of <strong>${view.host}</strong>${view.clientName ? html` (you came from <strong class="client-name">${view.clientName}</strong>)` : ''}?</p>
${view.form}
<div class="actions">
<button type="submit" form="op.logoutForm" name="logout" value="yes" class="button" autofocus>Yes, sign me out</button>
<button type="submit" form="op.logoutForm" class="button button--secondary">No, stay signed in</button>
</div>`,
  );
}
