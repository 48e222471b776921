// A legacy user as the idp imports them: the batch migration's record (legacy hash, salt and the
// ways to read it included), which the legacy-adapter also hands out when the idp must import
// one user on the spot (a legacy session's sign-in, a password reset of a user not imported yet).
import { z } from 'zod';

export const legacyImportRecordSchema = z.object({
  legacyId: z.string().min(1),
  username: z.string().nullable(),
  email: z.string().nullable(),
  name: z.string().nullable(),
  passwordHash: z.string().min(1),
  passwordScheme: z.string().min(1),
  /** Absent or null: the scheme has no separate salt. */
  passwordSalt: z.string().nullable().optional(),
  passwordCandidates: z.array(z.string()),
  passwordEncodings: z.array(z.enum(['utf8', 'latin1'])),
  legacyFingerprint: z.string(),
});

export type LegacyImportRecord = z.infer<typeof legacyImportRecordSchema>;
