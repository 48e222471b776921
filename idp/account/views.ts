// The password change page and its confirmation, in the interaction pages' layout.
import { errorSummary, fieldError, hidden, html, layout, type FieldError } from '../interactions/index.ts';
import { MIN_PASSWORD_LENGTH, PROBLEM_FIELD, PROBLEM_MESSAGE, type PasswordFormField, type PasswordFormProblem } from './password-rules.ts';

export const PASSWORD_PATH = '/account/password';

export interface PasswordChangeView {
  csrf: string;
  accountName?: string;
  problem?: PasswordFormProblem;
}

function passwordField(errors: readonly FieldError[], name: PasswordFormField, label: string, autocomplete: string, focus: boolean, hint?: string) {
  const error = fieldError(errors, name);
  return html`<div class="field${error.message ? ' field--error' : ''}">
<label for="${name}">${label}</label>
${hint ? html`<p class="detail" id="${name}-hint">${hint}</p>` : ''}
${error.message ? html`<p class="field-error" id="${name}-error"><span class="visually-hidden">Error: </span>${error.message}</p>` : ''}
<input id="${name}" name="${name}" type="password" autocomplete="${autocomplete}" required${error.attrs}${focus ? html` autofocus` : ''}>
</div>`;
}

export function passwordChangePage(view: PasswordChangeView): string {
  const errors: FieldError[] = view.problem ? [{ field: PROBLEM_FIELD[view.problem], message: PROBLEM_MESSAGE[view.problem] }] : [];
  return layout(
    'Change your password',
    html`<h1>Change your password</h1>
${view.accountName ? html`<p class="lead">You are signed in as <strong>${view.accountName}</strong>.</p>` : ''}
<p>Every other device and application signed in to your account will be signed out.</p>
${errorSummary(errors)}
<form method="post" action="${PASSWORD_PATH}" novalidate>
${hidden('csrf', view.csrf)}
${passwordField(errors, 'current-password', 'Current password', 'current-password', !errors.length)}
${passwordField(errors, 'new-password', 'New password', 'new-password', false, `At least ${MIN_PASSWORD_LENGTH} characters.`)}
${passwordField(errors, 'confirm-password', 'New password again', 'new-password', false)}
<button type="submit" class="button">Change password</button>
</form>`,
  );
}
