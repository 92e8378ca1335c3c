import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { removeDir, tempDir, whenDone } from './temp';

/**
 * File systems with a chosen failure, for the bad-local-path tests: a read-only tmpfs (EROFS), a
 * tiny tmpfs that is full (ENOSPC), a read-only bind mount of a directory (EROFS on a path that
 * looks ordinary), and an unprivileged uid for child processes (EACCES; root passes permission
 * checks). All of it needs root. As with Dovecot (with-dovecot.ts): where the tests cannot be root
 * they are skipped with one line, unless `REQUIRE_ROOT=1`, `REQUIRE_DOVECOT=1` or `CI` is set, in
 * which case they run and fail loudly. Every mount is unmounted when the test file is done.
 */

export const isRoot = process.getuid?.() === 0;
const required = ['REQUIRE_ROOT', 'REQUIRE_DOVECOT'].some((v) => process.env[v] === '1') || !!process.env.CI;

/** `describe` for suites that mount file systems or drop privileges. */
export const describeAsRoot: jest.Describe = isRoot || required ? describe : describe.skip;
if (!isRoot && !required) {
  process.stderr.write(
    'Skipping the mount and privilege tests: they need root (REQUIRE_ROOT=1 makes this an error).\n',
  );
}

/** The uid and gid child processes run as to meet permission checks (`nobody` on Debian). */
export const UNPRIVILEGED = { uid: 65534, gid: 65534 } as const;

const mounted: string[] = [];
/** Mount points live here (not in temp.ts's directories, which may be removed before these hooks). */
let base: string | undefined;
whenDone(() => {
  // Innermost first: a bind mount may sit inside a tmpfs.
  for (const dir of mounted.reverse()) unmount(dir);
  mounted.length = 0;
  if (base) removeDir(base);
  base = undefined;
});

/** A new empty directory for a mount point. */
function mountPoint(): string {
  base ??= mkdtempSync(join(tmpdir(), 'paths-mounts-'));
  chmodSync(base, 0o755);
  const dir = join(base, String(mounted.length + 1) + '-' + Math.random().toString(36).slice(2, 8));
  mkdirSync(dir);
  return dir;
}

function unmount(dir: string): void {
  try {
    execFileSync('umount', [dir], { stdio: 'pipe' });
  } catch {
    execFileSync('umount', ['-l', dir], { stdio: 'pipe' });
  }
}

/** A fresh tmpfs at a new directory, `size` like `64k`. */
export function mountTmpfs(options: { size?: string; readOnly?: boolean } = {}): string {
  const dir = mountPoint();
  const opts = [`size=${options.size ?? '1m'}`, 'mode=0755', ...(options.readOnly ? ['ro'] : [])].join(',');
  execFileSync('mount', ['-t', 'tmpfs', '-o', opts, 'tmpfs', dir], { stdio: 'pipe' });
  mounted.push(dir);
  return dir;
}

/**
 * A tmpfs of `size` with no block left: writing anything to it fails with ENOSPC. `fill` puts
 * files in first (a secret file to be rewritten, say).
 */
export function fullTmpfs(size = '64k', fill: (dir: string) => void = () => undefined): string {
  const dir = mountTmpfs({ size });
  fill(dir);
  fillUp(dir);
  return dir;
}

/** Takes every free block of the (small) file system holding `dir`: the next write that needs one fails with ENOSPC. */
export function fillUp(dir: string): void {
  try {
    writeFileSync(join(dir, 'filler'), Buffer.alloc(16 * 1024 * 1024));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOSPC') throw error;
  }
}

/** Makes a tmpfs from mountTmpfs read-only where it is, e.g. in the middle of a run (EROFS from then on). */
export function remountReadOnly(dir: string): void {
  if (!mounted.includes(dir)) throw new Error(`${dir} is not a mount of this test file`);
  execFileSync('mount', ['-o', 'remount,ro', dir], { stdio: 'pipe' });
}

/**
 * A new directory, filled by `fill`, then made read-only in place (a read-only bind mount of
 * itself): writes under it fail with EROFS while its parent stays writable.
 */
export function readOnlyDir(fill: (dir: string) => void = () => undefined): string {
  const dir = mountPoint();
  fill(dir);
  execFileSync('mount', ['--bind', dir, dir], { stdio: 'pipe' });
  mounted.push(dir);
  execFileSync('mount', ['-o', 'remount,bind,ro', dir], { stdio: 'pipe' });
  return dir;
}

/** A temp directory that the unprivileged uid can enter and read but not write (owned by root). */
export function rootOwnedDir(prefix: string): string {
  const dir = tempDir(prefix);
  chmodSync(dir, 0o755);
  return dir;
}
