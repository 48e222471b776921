/**
 * The form usernames and e-mail addresses are unique and looked up in: NFC (so a composed and
 * a decomposed "é" are one login), trimmed, lower-cased.
 */
export function normalizeLogin(value: string): string {
  return value.normalize('NFC').trim().toLowerCase();
}
