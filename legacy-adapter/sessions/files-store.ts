// PHP's default `files` save handler: one file `sess_<id>` per session in session.save_path, mode
// 0600. PHP opens it, takes flock(LOCK_EX) for the whole request and rewrites it in place
// (ftruncate, then write), so:
// - a new session is written to a temporary file and linked to its name, which fails if the name
//   exists: PHP never sees a half-written file, and an existing session is never overwritten;
// - a read takes flock(LOCK_SH) on the file first (through util-linux `flock` on our own open
//   descriptor, since node has no flock: the lock belongs to the open file, so it holds until we
//   close it), so it never sees a page's rewrite half done; a page holding the session longer
//   than the wait makes the read fail as unavailable, not as "not logged in";
// - a session is alive while its mtime is within the lifetime (PHP's gc rule for files).
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { access, link, open, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { LegacySessionStore } from './legacy-session-store.ts';

/** How long a read waits for a PHP request that holds the session. */
const LOCK_WAIT_SECONDS = 2;

const sessionFile = (savePath: string, id: string) => join(savePath, `sess_${id}`);

/** flock(fd, LOCK_SH) held by the open file description `fd` belongs to, through util-linux flock(1). */
function lockShared(fd: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('flock', ['--shared', '--wait', String(LOCK_WAIT_SECONDS), '3'], { stdio: ['ignore', 'ignore', 'ignore', fd] });
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`flock exited with ${code}`))));
  });
}

export function filesStore(savePath: string, lifetime: number): LegacySessionStore {
  return {
    async read(id) {
      let handle;
      try {
        // O_NOFOLLOW as PHP: a symlink planted in the directory is not a session.
        handle = await open(sessionFile(savePath, id), constants.O_RDONLY | constants.O_NOFOLLOW);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT' || (error as NodeJS.ErrnoException).code === 'ELOOP') return undefined;
        throw error;
      }
      try {
        await lockShared(handle.fd);
        const stat = await handle.stat();
        if (!stat.isFile() || stat.mtimeMs < Date.now() - lifetime * 1000) return undefined;
        const data = await handle.readFile();
        return data.length ? data : undefined;
      } finally {
        await handle.close();
      }
    },
    async create(id, data) {
      const temporary = join(savePath, `.sess_${id}.${randomBytes(6).toString('hex')}.tmp`);
      const handle = await open(temporary, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
      try {
        await handle.writeFile(data);
        await handle.sync();
        await handle.close();
        await link(temporary, sessionFile(savePath, id));
      } finally {
        await handle.close().catch(() => undefined);
        await unlink(temporary).catch(() => undefined);
      }
    },
    async destroy(id) {
      try {
        await unlink(sessionFile(savePath, id));
        return true;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
        throw error;
      }
    },
    checks: [{ name: 'legacy-session-files', check: () => access(savePath, constants.R_OK | constants.W_OK | constants.X_OK) }],
    async close() {},
  };
}
