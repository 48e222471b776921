// Its own module because both the directory and the password writer throw it: neither imports
// the other for it, so the two stay free of an import cycle.

/** The legacy database did not answer (or refused the mapped query); the caller answers 503. */
export class LegacyUnavailableError extends Error {
  constructor(cause: unknown) {
    super('the legacy database is unavailable', { cause });
    this.name = 'LegacyUnavailableError';
  }
}
