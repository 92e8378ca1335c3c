import { constants } from 'node:fs';
import { access, stat, statfs } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { localPathError } from './errors';
import { makeDirectory } from './make-directory';

/**
 * Checks, before a run touches a mailbox, that the local paths it will write can be written, so
 * that a bad path costs one line and no login, rather than a RETR of every message that then
 * cannot be stored. Nothing is written: a missing directory is created (as the run would), and
 * the rest is asked of the OS — `access` for permission and read-only mounts (EACCES, EROFS) and
 * `statfs` for a file system with no block left (ENOSPC). A disk that fills during the run is
 * still caught where each message is stored.
 *
 * Failures throw a `LocalPathError` (errors.ts): one line, `what` and the path, the OS code.
 */

/** `dir` exists (created with its parents if missing), is a directory, and new files can go in it. */
export async function checkWritableDirectory(what: string, dir: string): Promise<void> {
  const path = resolve(dir);
  try {
    await makeDirectory(path);
    await access(path, constants.W_OK | constants.X_OK);
    await checkSpace(path);
  } catch (error) {
    throw localPathError(what, path, error);
  }
}

/**
 * `file` can be appended to: it is a writable file, or it does not exist yet and its directory
 * (created if missing) can take it. The file itself is not created.
 */
export async function checkAppendableFile(what: string, file: string): Promise<void> {
  const path = resolve(file);
  const dir = dirname(path);
  try {
    await makeDirectory(dir);
    let exists = true;
    try {
      if ((await stat(path)).isDirectory()) {
        throw Object.assign(new Error(`EISDIR: ${path}`), { code: 'EISDIR', path, detail: 'is a directory' });
      }
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      exists = false;
    }
    if (exists) await access(path, constants.W_OK);
    else await access(dir, constants.W_OK | constants.X_OK);
    await checkSpace(dir);
  } catch (error) {
    throw localPathError(what, path, error);
  }
}

/**
 * ENOSPC when the file system holding `path` has no block left for its writer (root may use the
 * blocks reserved for it, as the kernel allows).
 */
async function checkSpace(path: string): Promise<void> {
  const fs = await statfs(path);
  const free = process.getuid?.() === 0 ? fs.bfree : fs.bavail;
  if (fs.blocks > 0 && free <= 0) {
    throw Object.assign(new Error(`ENOSPC: ${path}`), {
      code: 'ENOSPC',
      path,
      detail: 'no space left on device',
    });
  }
}
