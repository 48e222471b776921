// What a new password must be, and which field of the form is wrong. Pure: no I/O.

export const MIN_PASSWORD_LENGTH = 8;
export const MAX_PASSWORD_LENGTH = 1024;

export type PasswordFormField = 'current-password' | 'new-password' | 'confirm-password';

export type PasswordFormProblem =
  'missing-current' | 'too-short' | 'too-long' | 'mismatch' | 'same-as-current' | 'incorrect-current' | 'throttled' | 'changed-meanwhile';

export interface PasswordForm {
  current: string;
  next: string;
  confirm: string;
}

/** What any new password must be, typed twice (the password change and the reset both ask this). */
export function newPasswordProblem(next: string, confirm: string): 'too-short' | 'too-long' | 'mismatch' | undefined {
  // The minimum in code points, as a person counts characters; the maximum in UTF-16 units,
  // as the login form cuts its fields (idp/interactions/routes.ts): a longer password could be
  // set here and never typed in there again.
  if ([...next].length < MIN_PASSWORD_LENGTH) return 'too-short';
  if (next.length > MAX_PASSWORD_LENGTH) return 'too-long';
  if (next !== confirm) return 'mismatch';
  return undefined;
}

/** The first problem of the form as typed, before any password is checked; undefined if none. */
export function formProblem(form: PasswordForm): PasswordFormProblem | undefined {
  if (!form.current) return 'missing-current';
  const problem = newPasswordProblem(form.next, form.confirm);
  if (problem) return problem;
  if (form.next === form.current) return 'same-as-current';
  return undefined;
}

export const PROBLEM_FIELD: Record<PasswordFormProblem, PasswordFormField> = {
  'missing-current': 'current-password',
  'too-short': 'new-password',
  'too-long': 'new-password',
  mismatch: 'confirm-password',
  'same-as-current': 'new-password',
  'incorrect-current': 'current-password',
  throttled: 'current-password',
  'changed-meanwhile': 'current-password',
};

export const PROBLEM_MESSAGE: Record<PasswordFormProblem, string> = {
  'missing-current': 'Enter your current password',
  'too-short': `Your new password must be at least ${MIN_PASSWORD_LENGTH} characters long`,
  'too-long': `Your new password must be at most ${MAX_PASSWORD_LENGTH} characters long`,
  mismatch: 'The two new passwords do not match',
  'same-as-current': 'Your new password must be different from your current one',
  'incorrect-current': 'Your current password is incorrect',
  throttled: 'Too many attempts. Please wait a moment and try again.',
  'changed-meanwhile': 'Your password was changed in the meantime. Enter your current password again.',
};
