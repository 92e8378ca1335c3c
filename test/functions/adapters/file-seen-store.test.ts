import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LocalPathError } from '../../../functions/adapters/errors';
import { FileSeenStore } from '../../../functions/adapters/file-seen-store';
import { describeAsRoot, fullTmpfs, readOnlyDir } from '../../support/mounts';
import { tempDir } from '../../support/temp';

const AT = new Date('2025-03-01T12:00:00.000Z');

describe('Class: FileSeenStore', () => {
  it('remembers added UIDLs across instances, creating its directory, and forgets them', async () => {
    const dir = join(tempDir('seen-'), 'state', 'nested');

    await new FileSeenStore(dir).add('support', ['u1', 'u2'], AT);
    await new FileSeenStore(dir).forget('support', ['u1']);

    const seen = await new FileSeenStore(dir).seen('support', ['u1', 'u2', 'u3']);
    expect([...seen]).toEqual([['u2', AT]]);
    expect(readFileSync(join(dir, 'support.seen.jsonl'), 'utf8')).toBe(
      `{"u":"u1","t":"${AT.toISOString()}"}\n{"u":"u2","t":"${AT.toISOString()}"}\n{"f":"u1"}\n`,
    );
  });

  it('fails with one line naming the state directory for a path under /proc (ENOENT)', async () => {
    const error = await new FileSeenStore('/proc/pop3-poller-state')
      .add('support', ['u1'], AT)
      .catch((e) => e);

    expect(error).toBeInstanceOf(LocalPathError);
    expect(error).toMatchObject({ code: 'ESTATE', errno: 'ENOENT', retryable: false });
    expect((error as Error).message).toBe(
      'keep-mode state directory /proc/pop3-poller-state: ENOENT, the file system does not allow creating ' +
        '/proc/pop3-poller-state',
    );
  });

  it('fails with ENOTDIR when a file stands where the directory belongs', async () => {
    const root = tempDir('seen-');
    writeFileSync(join(root, 'state'), 'x');

    await expect(new FileSeenStore(join(root, 'state')).add('support', ['u1'], AT)).rejects.toMatchObject({
      errno: 'ENOTDIR',
      message: `keep-mode state directory ${join(root, 'state')}: ENOTDIR, ${join(root, 'state')} exists and is not a directory`,
    });
  });
});

describeAsRoot('Class: FileSeenStore, on a file system that cannot take the state', () => {
  it('EROFS: add fails, not retryable, and what was recorded before is still read', async () => {
    const line = `{"u":"u1","t":"${AT.toISOString()}"}\n`;
    const dir = readOnlyDir((d) => writeFileSync(join(d, 'support.seen.jsonl'), line));
    const store = new FileSeenStore(dir);

    await expect(store.add('support', ['u2'], AT)).rejects.toMatchObject({
      errno: 'EROFS',
      retryable: false,
      message: `keep-mode state directory ${dir}: EROFS, read-only file system (at ${join(dir, 'support.seen.jsonl')})`,
    });
    expect([...(await store.seen('support', ['u1', 'u2']))]).toEqual([['u1', AT]]);
  });

  it('ENOSPC: add fails, retryable', async () => {
    const dir = fullTmpfs();

    await expect(new FileSeenStore(dir).add('support', ['u1'], AT)).rejects.toMatchObject({
      errno: 'ENOSPC',
      retryable: true,
      message: expect.stringMatching(
        new RegExp(`^keep-mode state directory ${dir}: ENOSPC, no space left on device`),
      ),
    });
  });
});
