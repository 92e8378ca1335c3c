import { chmodSync, existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LocalPathError } from '../../../functions/adapters/errors';
import { checkAppendableFile, checkWritableDirectory } from '../../../functions/adapters/writable-path';
import { describeAsRoot, fullTmpfs, mountTmpfs, readOnlyDir } from '../../support/mounts';
import { tempDir } from '../../support/temp';

/** The error a check threw, which must be a one-line LocalPathError. */
async function failure(check: Promise<void>): Promise<LocalPathError> {
  const error = await check.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(LocalPathError);
  expect((error as Error).message).not.toContain('\n');
  return error as LocalPathError;
}

describe('Function: checkWritableDirectory', () => {
  it('creates a missing directory and writes nothing into it', async () => {
    const dir = join(tempDir('writable-'), 'a', 'b');

    await checkWritableDirectory('archive directory', dir);

    expect(readdirSync(dir)).toEqual([]);
  });

  it('refuses a path under /proc at once: ENOENT, not retryable', async () => {
    const error = await failure(checkWritableDirectory('archive directory', '/proc/nope'));

    expect(error).toMatchObject({ code: 'EPATH', errno: 'ENOENT', retryable: false, path: '/proc/nope' });
    expect(error.message).toBe(
      'archive directory /proc/nope: ENOENT, the file system does not allow creating /proc/nope',
    );
  });

  it('refuses a file where the directory belongs: ENOTDIR', async () => {
    const root = tempDir('writable-');
    writeFileSync(join(root, 'file'), 'x');

    const error = await failure(checkWritableDirectory('archive directory', join(root, 'file', 'archive')));

    expect(error).toMatchObject({ errno: 'ENOTDIR', retryable: false });
    expect(error.message).toBe(
      `archive directory ${join(root, 'file', 'archive')}: ENOTDIR, ${join(root, 'file')} is not a directory`,
    );
  });
});

describe('Function: checkAppendableFile', () => {
  it('accepts a new file in a new directory without creating the file', async () => {
    const file = join(tempDir('writable-'), 'logs', 'events.jsonl');

    await checkAppendableFile('events file', file);

    expect(existsSync(join(file, '..'))).toBe(true);
    expect(existsSync(file)).toBe(false);
  });

  it('refuses a directory: EISDIR', async () => {
    const dir = tempDir('writable-');
    mkdirSync(join(dir, 'events.jsonl'));

    const error = await failure(checkAppendableFile('events file', join(dir, 'events.jsonl')));

    expect(error.errno).toBe('EISDIR');
    expect(error.message).toBe(`events file ${join(dir, 'events.jsonl')}: EISDIR, is a directory`);
  });
});

describeAsRoot('Local path checks on read-only and full file systems', () => {
  it('refuses a read-only file system: EROFS, not retryable', async () => {
    const ro = mountTmpfs({ readOnly: true });

    const dir = await failure(checkWritableDirectory('archive directory', ro));
    const sub = await failure(checkWritableDirectory('archive directory', join(ro, 'new')));
    const file = await failure(checkAppendableFile('events file', join(ro, 'events.jsonl')));

    expect(dir).toMatchObject({ errno: 'EROFS', retryable: false });
    expect(dir.message).toBe(`archive directory ${ro}: EROFS, read-only file system`);
    expect(sub).toMatchObject({ errno: 'EROFS' });
    expect(file).toMatchObject({ errno: 'EROFS' });
  });

  it('refuses an existing events file on a read-only bind mount: EROFS', async () => {
    const ro = readOnlyDir((d) => writeFileSync(join(d, 'events.jsonl'), ''));

    const error = await failure(checkAppendableFile('events file', join(ro, 'events.jsonl')));

    expect(error.message).toBe(`events file ${join(ro, 'events.jsonl')}: EROFS, read-only file system`);
  });

  it('refuses a full file system: ENOSPC, retryable', async () => {
    const full = fullTmpfs();
    mkdirSync(join(full, 'archive'), { recursive: false });
    chmodSync(join(full, 'archive'), 0o700);

    const error = await failure(checkWritableDirectory('archive directory', join(full, 'archive')));
    const file = await failure(checkAppendableFile('events file', join(full, 'events.jsonl')));

    expect(error).toMatchObject({ errno: 'ENOSPC', retryable: true });
    expect(error.message).toBe(`archive directory ${join(full, 'archive')}: ENOSPC, no space left on device`);
    expect(file).toMatchObject({ errno: 'ENOSPC', retryable: true });
  });
});
