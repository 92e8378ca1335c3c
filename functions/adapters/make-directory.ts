import { mkdir, stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';

/**
 * `mkdir -p` in a bounded number of steps: creates `dir` and its missing parents with plain
 * (non-recursive) mkdir calls and resolves with the first directory it created (the shallowest),
 * or undefined when `dir` already existed — as `mkdir(dir, { recursive: true })` does.
 *
 * Why not that: Node 20's recursive mkdir loops forever, at full CPU, on a path a file system
 * refuses with ENOENT although the parent exists (any new name under /proc): it takes ENOENT to
 * mean "parent missing", creates the parent (EEXIST), and tries the child again, for ever. Here
 * each level is tried at most twice: once on the way up (to find the deepest existing ancestor, a
 * walk that ends at the root at the latest) and once on the way down (creating what is missing). An
 * ENOENT on the way down, under a parent that now exists, is final: the file system refuses the
 * name, or someone removed the parent meanwhile; either way a retry is the loop above.
 *
 * Races with another creator are fine: EEXIST for a directory counts as done. A name that exists
 * and is not a directory (or a dangling symbolic link) fails with ENOTDIR (ENOENT). Errors keep the
 * OS code and the path they happened at; `detail`, when set, says what the code means here.
 */
export async function makeDirectory(dir: string, mode = 0o700): Promise<string | undefined> {
  const target = resolve(dir);
  const missing: string[] = [];
  let firstCreated: string | undefined;
  // Up: each turn moves to the parent, so this ends at the root (which exists) at the latest.
  for (let at = target; ; at = dirname(at)) {
    const outcome = await makeOne(at, mode);
    if (outcome === 'created') firstCreated = at;
    if (outcome !== 'no-parent') break;
    if (dirname(at) === at) throw fsError('ENOENT', at, 'the root directory does not exist');
    missing.push(at);
  }
  // Down: the parent of each name now exists.
  for (let i = missing.length - 1; i >= 0; i--) {
    const at = missing[i]!;
    const outcome = await makeOne(at, mode);
    if (outcome === 'no-parent') {
      throw fsError('ENOENT', at, `the file system does not allow creating ${at}`);
    }
    if (outcome === 'created') firstCreated ??= at;
  }
  return firstCreated;
}

/** One plain mkdir: created, already a directory, or its parent is missing; anything else throws. */
async function makeOne(dir: string, mode: number): Promise<'created' | 'exists' | 'no-parent'> {
  try {
    await mkdir(dir, { mode });
    return 'created';
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return 'no-parent';
    if (code === 'ENOTDIR') throw await notDirectory(dir, error);
    if (code !== 'EEXIST') throw error;
  }
  let isDirectory: boolean;
  try {
    isDirectory = (await stat(dir)).isDirectory();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      throw fsError('ENOENT', dir, `${dir} is a symbolic link to nothing`);
    }
    throw error;
  }
  if (!isDirectory) throw fsError('ENOTDIR', dir, `${dir} exists and is not a directory`);
  return 'exists';
}

/**
 * ENOTDIR from mkdir means some ancestor is a file: names the nearest one, so the user need not
 * search (the walk ends at the root).
 */
async function notDirectory(dir: string, error: unknown): Promise<unknown> {
  for (let at = dirname(dir); dirname(at) !== at; at = dirname(at)) {
    const found = await stat(at).catch(() => undefined);
    if (found && !found.isDirectory()) return fsError('ENOTDIR', at, `${at} is not a directory`);
  }
  return error;
}

function fsError(code: string, path: string, detail: string): NodeJS.ErrnoException & { detail: string } {
  return Object.assign(new Error(`${code}: ${detail}`), { code, path, syscall: 'mkdir', detail });
}
