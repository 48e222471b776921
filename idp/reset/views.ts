// The reset pages, in the interaction pages' layout: the request form, its one answer, and the
// new-password form a mailed link opens.
import { PROBLEM_FIELD, PROBLEM_MESSAGE, MIN_PASSWORD_LENGTH } from '../account/password-rules.ts';
import { errorSummary, fieldError, hidden, html, layout, type FieldError } from '../interactions/index.ts';

export const RESET_PATH = '/interaction/password-reset';
export const NEW_PASSWORD_PATH = `${RESET_PATH}/new`;

export type NewPasswordProblem = 'too-short' | 'too-long' | 'mismatch';

export function requestPage(view: { missing?: boolean } = {}): string {
  const errors: FieldError[] = view.missing ? [{ field: 'identifier', message: 'Enter your email address or username' }] : [];
  const id = fieldError(errors, 'identifier');
  return layout(
    'Reset your password',
    html`<h1>Reset your password</h1>
<p>Enter the email address or username of your account. We will send a link to choose a new password to the email address the account has.</p>
${errorSummary(errors)}
<form method="post" action="${RESET_PATH}" novalidate>
<div class="field${id.message ? ' field--error' : ''}">
<label for="identifier">Email address or username</label>
${id.message ? html`<p class="field-error" id="identifier-error"><span class="visually-hidden">Error: </span>${id.message}</p>` : ''}
<input id="identifier" name="identifier" type="text" autocomplete="username" autocapitalize="none" autocorrect="off" spellcheck="false" required${id.attrs}${errors.length ? '' : html` autofocus`}>
</div>
<button type="submit" class="button">Send the link</button>
</form>`,
  );
}

/** The one answer to every request, whether the account exists or not. */
export function requestedPage(minutes: number): string {
  return layout(
    'Check your email',
    html`<h1>Check your email</h1>
<p>If an account matches what you entered, we have sent a link to choose a new password to its email address. The link works once, for ${minutes} minutes.</p>
<p>No email after a few minutes? Check your spam folder, or <a href="${RESET_PATH}">ask again</a>.</p>`,
  );
}

export function newPasswordPage(view: { token: string; problem?: NewPasswordProblem }): string {
  const errors: FieldError[] = view.problem ? [{ field: PROBLEM_FIELD[view.problem], message: PROBLEM_MESSAGE[view.problem] }] : [];
  const field = (name: 'new-password' | 'confirm-password', label: string, focus: boolean, hint?: string) => {
    const error = fieldError(errors, name);
    return html`<div class="field${error.message ? ' field--error' : ''}">
<label for="${name}">${label}</label>
${hint ? html`<p class="detail" id="${name}-hint">${hint}</p>` : ''}
${error.message ? html`<p class="field-error" id="${name}-error"><span class="visually-hidden">Error: </span>${error.message}</p>` : ''}
<input id="${name}" name="${name}" type="password" autocomplete="new-password" required${error.attrs}${focus ? html` autofocus` : ''}>
</div>`;
  };
  return layout(
    'Choose a new password',
    html`<h1>Choose a new password</h1>
<p>Every device and application signed in to your account will be signed out.</p>
${errorSummary(errors)}
<form method="post" action="${NEW_PASSWORD_PATH}" novalidate>
${hidden('token', view.token)}
${field('new-password', 'New password', !errors.length, `At least ${MIN_PASSWORD_LENGTH} characters.`)}
${field('confirm-password', 'New password again', false)}
<button type="submit" class="button">Set the new password</button>
</form>`,
  );
}
