import { mkdirSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeDirectory } from '../../../functions/adapters/make-directory';
import { tempDir } from '../../support/temp';

describe('Function: makeDirectory', () => {
  it('creates a directory and its missing parents, mode 700, and returns the first it created', async () => {
    const root = tempDir('make-directory-');

    const first = await makeDirectory(join(root, 'a', 'b', 'c'));

    expect(first).toBe(join(root, 'a'));
    for (const d of ['a', 'a/b', 'a/b/c']) {
      const s = statSync(join(root, d));
      expect(s.isDirectory()).toBe(true);
      expect(s.mode & 0o777).toBe(0o700);
    }
  });

  it('returns undefined for a directory that exists, and creates only what is missing', async () => {
    const root = tempDir('make-directory-');
    mkdirSync(join(root, 'a'));

    await expect(makeDirectory(root)).resolves.toBeUndefined();
    await expect(makeDirectory(join(root, 'a', 'b'))).resolves.toBe(join(root, 'a', 'b'));
  });

  it('lets concurrent callers race for the same directories', async () => {
    const root = tempDir('make-directory-');
    const target = join(root, 'x', 'y', 'z');

    const results = await Promise.all(Array.from({ length: 8 }, () => makeDirectory(target)));

    expect(statSync(target).isDirectory()).toBe(true);
    expect(results.filter((r) => r !== undefined).length).toBeGreaterThanOrEqual(1);
  });

  // Node 20's mkdir(path, { recursive: true }) never returns here (it spins at full CPU).
  it('fails at once with ENOENT for a path under /proc, naming the name it could not create', async () => {
    const started = Date.now();

    const error = await makeDirectory('/proc/pop3-poller-nope/deeper').catch((e: unknown) => e);

    expect(Date.now() - started).toBeLessThan(1000);
    expect(error).toMatchObject({
      code: 'ENOENT',
      path: '/proc/pop3-poller-nope',
      detail: 'the file system does not allow creating /proc/pop3-poller-nope',
    });
  });

  it('fails with ENOTDIR naming the file that stands where a directory belongs', async () => {
    const root = tempDir('make-directory-');
    writeFileSync(join(root, 'file'), 'x');

    await expect(makeDirectory(join(root, 'file'))).rejects.toMatchObject({
      code: 'ENOTDIR',
      path: join(root, 'file'),
      detail: `${join(root, 'file')} exists and is not a directory`,
    });
    await expect(makeDirectory(join(root, 'file', 'a', 'b'))).rejects.toMatchObject({
      code: 'ENOTDIR',
      path: join(root, 'file'),
      detail: `${join(root, 'file')} is not a directory`,
    });
  });

  it('fails with ENOENT on a symbolic link to nothing', async () => {
    const root = tempDir('make-directory-');
    symlinkSync(join(root, 'gone'), join(root, 'link'));

    await expect(makeDirectory(join(root, 'link'))).rejects.toMatchObject({
      code: 'ENOENT',
      path: join(root, 'link'),
    });
  });
});
