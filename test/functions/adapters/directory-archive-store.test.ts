import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { mkdtemp, mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pathToFileURL } from 'node:url';
import { DirectoryArchiveStore } from '../../../functions/adapters/directory-archive-store';
import { ArchiveError } from '../../../functions/adapters/errors';
import { pollAccounts } from '../../../functions/poller/poll-accounts';
import { hashedBuffers, type ArchiveItem } from '../../../functions/poller/ports';
import { MemoryEventSink, StaticCredentials } from '../../support/memory-ports';
import { describeAsRoot, fullTmpfs, readOnlyDir } from '../../support/mounts';
import { makeMessages } from '../../support/poll-fixtures';
import { SCRIPTED_PASSWORD, startScriptedMailbox } from '../../support/scripted-mailbox';
import { tempDir } from '../../support/temp';

const sha256Hex = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

/** Every byte value, bare CR and LF, CRLF, and a lone dot line: anything a re-encoding would change. */
const MESSAGE = Buffer.concat([
  Buffer.from('Subject: test\r\n\r\n.\r\nbare\nlf\rcr\r\n', 'latin1'),
  Buffer.from(Array.from({ length: 256 }, (_, i) => i)),
]);

const ARCHIVED_AT = new Date('2026-12-07T10:00:00.123Z');

function itemOf(bytes: Buffer, overrides: Partial<ArchiveItem> = {}): ArchiveItem {
  const sha256 = sha256Hex(bytes);
  return {
    key: `support/${sha256}.eml`,
    accountId: 'support',
    uidl: 'UID-1',
    sha256,
    size: bytes.length,
    archivedAt: ARCHIVED_AT,
    source: 'pop3-poller',
    body: () => Readable.from([bytes]),
    ...overrides,
  };
}

const LOG = 'support/archive-log.jsonl';

/** The account directory's archive log, parsed. */
async function logLines(): Promise<Array<Record<string, unknown>>> {
  const text = await readFile(join(dir, LOG), 'utf8');
  return text
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

/** Every file under `dir`, relative, recursively (temp files included: they start with a dot). */
async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name).slice(dir.length + 1))
    .sort();
}

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'archive-test-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('Class: DirectoryArchiveStore', () => {
  it('writes the bytes exactly, under dir/key, creating the directories', async () => {
    const item = itemOf(MESSAGE);

    const stored = await new DirectoryArchiveStore({ dir }).put(item);

    const path = join(dir, item.key);
    expect(stored).toEqual({
      location: pathToFileURL(path).href,
      sha256: item.sha256,
      size: MESSAGE.length,
      alreadyExisted: false,
      archivedAt: ARCHIVED_AT,
    });
    expect(stored.location).toBe(`file://${path}`);
    expect((await readFile(path)).equals(MESSAGE)).toBe(true);
    expect(await filesUnder(dir)).toEqual([LOG, item.key].sort());
  });

  it('records what the event is rebuilt from: a log line per put, and the archive time as the file time', async () => {
    const store = new DirectoryArchiveStore({ dir });
    const item = itemOf(MESSAGE);
    const noUidl = itemOf(Buffer.from('Subject: other\r\n\r\n'), { uidl: undefined, source: 'acme.mail' });
    await store.put(item);
    await store.put(noUidl);

    expect(await logLines()).toEqual([
      {
        key: item.key,
        sha256: item.sha256,
        size: MESSAGE.length,
        uidl: 'UID-1',
        archivedAt: '2026-12-07T10:00:00.123Z',
        source: 'pop3-poller',
      },
      {
        key: noUidl.key,
        sha256: noUidl.sha256,
        size: noUidl.size,
        uidl: null,
        archivedAt: '2026-12-07T10:00:00.123Z',
        source: 'acme.mail',
      },
    ]);
    expect((await stat(join(dir, item.key))).mtime).toEqual(ARCHIVED_AT);
  });

  it('starts its log on a fresh line when a crash left the last one torn, so no record is lost with it', async () => {
    await mkdir(join(dir, 'support'));
    await writeFile(join(dir, LOG), '{"key":"support/torn');

    const item = itemOf(MESSAGE);
    await new DirectoryArchiveStore({ dir }).put(item);

    const text = await readFile(join(dir, LOG), 'utf8');
    expect(text.split('\n')[0]).toBe('{"key":"support/torn');
    expect(await logLines().catch(() => 'unparseable')).toBe('unparseable');
    const parsed = text
      .split('\n')
      .slice(1)
      .filter(Boolean)
      .map((line) => JSON.parse(line) as { key: string; uidl: string });
    expect(parsed).toEqual([expect.objectContaining({ key: item.key, uidl: 'UID-1' })]);
  });

  it('answers a put of a message already there with the time it was first archived, and logs the put', async () => {
    const item = itemOf(MESSAGE);
    await new DirectoryArchiveStore({ dir }).put(item);
    const later = new Date('2026-12-08T09:00:00.000Z');

    // Another UIDL for the same bytes (a second copy on the server): a second event, so a second line.
    const again = await new DirectoryArchiveStore({ dir }).put({ ...item, uidl: 'UID-2', archivedAt: later });

    expect(again).toMatchObject({ alreadyExisted: true, archivedAt: ARCHIVED_AT });
    expect((await logLines()).map((line) => [line.uidl, line.archivedAt])).toEqual([
      ['UID-1', '2026-12-07T10:00:00.123Z'],
      ['UID-2', '2026-12-07T10:00:00.123Z'],
    ]);
  });

  it('writes a body that arrives in many small chunks', async () => {
    const big = Buffer.alloc(300_000, 'x');
    const chunks = Array.from({ length: 300 }, (_, i) => big.subarray(i * 1000, (i + 1) * 1000));

    await new DirectoryArchiveStore({ dir }).put({ ...itemOf(big), body: () => Readable.from(chunks) });

    expect((await readFile(join(dir, itemOf(big).key))).equals(big)).toBe(true);
  });

  it('creates files readable by the owner only', async () => {
    const item = itemOf(MESSAGE);

    await new DirectoryArchiveStore({ dir }).put(item);

    expect((await stat(join(dir, item.key))).mode & 0o777).toBe(0o600);
  });

  it('rejects bytes that do not match the item sha256 and leaves no file behind', async () => {
    const item = itemOf(MESSAGE, { sha256: 'ab'.repeat(32) });

    const error = await new DirectoryArchiveStore({ dir }).put(item).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(ArchiveError);
    expect(error).toMatchObject({ reason: 'integrity', code: 'EINTEGRITY' });
    expect(await filesUnder(dir)).toEqual([]);
  });

  it('takes the digest of a Buffer hashed already (hashedBuffers) and still checks it against the item', async () => {
    const store = new DirectoryArchiveStore({ dir });
    // The recorded digest is what the store compares: a Buffer recorded with the item's digest is
    // stored without a second hash...
    const good = Buffer.from(MESSAGE);
    hashedBuffers.set(good, sha256Hex(good));
    const stored = await store.put(itemOf(good, { bytes: good }));
    expect(stored).toMatchObject({ sha256: sha256Hex(MESSAGE), size: MESSAGE.length, alreadyExisted: false });
    expect((await readFile(join(dir, `support/${sha256Hex(MESSAGE)}.eml`))).equals(MESSAGE)).toBe(true);
    // ...and one recorded with another digest than the item's is refused as an integrity failure.
    const other = Buffer.concat([MESSAGE, Buffer.from('x')]);
    hashedBuffers.set(other, 'cd'.repeat(32));
    await expect(store.put(itemOf(other, { bytes: other }))).rejects.toMatchObject({ reason: 'integrity' });
    expect(await filesUnder(dir)).toEqual([LOG, `support/${sha256Hex(MESSAGE)}.eml`].sort());
  });

  it('rejects a body longer than declared and leaves no file behind', async () => {
    const item = itemOf(MESSAGE, { size: 10 });

    await expect(new DirectoryArchiveStore({ dir }).put(item)).rejects.toMatchObject({ reason: 'integrity' });
    expect(await filesUnder(dir)).toEqual([]);
  });

  it('reports an identical existing file as alreadyExisted', async () => {
    const item = itemOf(MESSAGE);
    const store = new DirectoryArchiveStore({ dir });
    await store.put(item);

    const again = await store.put(item);

    expect(again).toMatchObject({ alreadyExisted: true, sha256: item.sha256, size: MESSAGE.length });
    expect((await readFile(join(dir, item.key))).equals(MESSAGE)).toBe(true);
    expect(await filesUnder(dir)).toEqual([LOG, item.key].sort());
  });

  it('refuses to overwrite a different existing file, and leaves it untouched', async () => {
    const item = itemOf(MESSAGE);
    const original = Buffer.from('the original bytes');
    await mkdir(join(dir, 'support'));
    await writeFile(join(dir, item.key), original);

    const error = await new DirectoryArchiveStore({ dir }).put(item).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(ArchiveError);
    expect(error).toMatchObject({ reason: 'conflict', code: 'EINTEGRITY', retryable: false, key: item.key });
    expect((error as Error).message).toMatch(/a different file already exists at .*not overwritten/);
    expect((await readFile(join(dir, item.key))).equals(original)).toBe(true);
    expect(await filesUnder(dir)).toEqual([item.key]);
  });

  it('stores concurrent puts of the same message once, and both succeed', async () => {
    const item = itemOf(MESSAGE);
    const store = new DirectoryArchiveStore({ dir });

    const results = await Promise.all([store.put(item), store.put(item), store.put(item)]);

    expect(results.filter((r) => !r.alreadyExisted)).toHaveLength(1);
    expect(await filesUnder(dir)).toEqual([LOG, item.key].sort());
    expect(await logLines()).toHaveLength(3);
    expect((await readFile(join(dir, item.key))).equals(MESSAGE)).toBe(true);
  });

  it('creates the root directory when it does not exist', async () => {
    const root = join(dir, 'not', 'yet');
    const item = itemOf(MESSAGE);

    await new DirectoryArchiveStore({ dir: root }).put(item);

    expect((await readFile(join(root, item.key))).equals(MESSAGE)).toBe(true);
  });

  it.each([
    ['support/abc.eml', 'support/abc.eml'],
    ['a/b/c-d_e.f.eml', 'a/b/c-d_e.f.eml'],
    ['support/./x.eml', 'support/x.eml'],
    ['support//x.eml', 'support/x.eml'],
    ['.hidden/x.eml', '.hidden/x.eml'],
    ['support/x/../y.eml', 'support/y.eml'],
  ])('stores the key %j at %j under the root', async (key, path) => {
    const stored = await new DirectoryArchiveStore({ dir }).put(itemOf(MESSAGE, { key }));
    expect((await readFile(join(dir, path))).equals(MESSAGE)).toBe(true);
    expect(stored.location).toBe(pathToFileURL(join(dir, path)).href);
  });

  it.each(['../escape.eml', '/etc/passwd', 'support/../../escape.eml', ''])(
    'refuses the key %j',
    async (key) => {
      await expect(new DirectoryArchiveStore({ dir }).put(itemOf(MESSAGE, { key }))).rejects.toThrow(
        /is not a relative path inside the store/,
      );
      expect(await filesUnder(dir)).toEqual([]);
    },
  );

  it('reports a body stream that fails as a retryable archive error and leaves no file behind', async () => {
    const item = itemOf(MESSAGE, {
      body: () =>
        Readable.from(
          (async function* () {
            yield MESSAGE.subarray(0, 10);
            throw new Error('spool read failed');
          })(),
        ),
    });

    const error = await new DirectoryArchiveStore({ dir }).put(item).catch((e: unknown) => e);

    expect(error).toMatchObject({ reason: 'unavailable', code: 'EARCHIVE', retryable: true });
    expect((error as Error).message).toContain('spool read failed');
    expect(await filesUnder(dir)).toEqual([]);
  });
});

/**
 * Archive roots that cannot take a message, each failing with its own OS error. The store must
 * fail fast with one line naming the root and the code (retryable only for a full disk), and the
 * workflow must then leave every message on the server: none is DELE'd that was not stored.
 */
const BAD_ROOTS: Array<[errno: string, root: () => string, retryable: boolean]> = [
  ['ENOENT', () => '/proc/pop3-poller-archive', false],
  [
    'ENOTDIR',
    () => {
      const root = tempDir('archive-enotdir-');
      writeFileSync(join(root, 'support'), 'a file where the account directory belongs');
      return root;
    },
    false,
  ],
  ['EROFS', () => readOnlyDir(), false],
  ['ENOSPC', () => fullTmpfs(), true],
];

describeAsRoot('Class: DirectoryArchiveStore, on a root that cannot be written', () => {
  it.each(BAD_ROOTS)(
    '%s: put fails at once with one line naming the root',
    async (errno, rootOf, retryable) => {
      const root = rootOf();
      const started = Date.now();

      const error = await new DirectoryArchiveStore({ dir: root })
        .put(itemOf(MESSAGE))
        .catch((e: unknown) => e);

      expect(Date.now() - started).toBeLessThan(1000);
      expect(error).toBeInstanceOf(ArchiveError);
      expect(error).toMatchObject({ code: 'EARCHIVE', reason: 'unavailable', retryable });
      const message = (error as Error).message;
      expect(message).toMatch(new RegExp(`^archive directory ${root}: ${errno}, `));
      expect(message).not.toContain('\n');
      if (errno === 'ENOSPC') expect(await filesUnder(root)).toEqual(['filler']); // no temp file left
    },
  );

  it.each(BAD_ROOTS)('%s: a poll archives nothing and deletes nothing', async (errno, rootOf, retryable) => {
    const messages = makeMessages(3, { bodyBytes: 20_000, batch: errno });
    const mailbox = await startScriptedMailbox(messages);
    const events = new MemoryEventSink();

    const [result] = await pollAccounts(
      [mailbox.account('support')],
      {
        credentials: new StaticCredentials({ support: { password: SCRIPTED_PASSWORD } }),
        archive: new DirectoryArchiveStore({ dir: rootOf() }),
        events,
      },
      { runId: `paths-${errno}` },
    );

    expect(result).toMatchObject({ status: 'failed', archived: 0, deleted: 0 });
    expect(result!.messageErrors[0]).toMatchObject({ code: 'EARCHIVE', retryable });
    expect(result!.messageErrors[0]!.message).toContain(`: ${errno}, `);
    expect(events.ofType('Message Archived')).toEqual([]);
    expect([...mailbox.live.values()].map((m) => m.bytes)).toEqual(messages);
    expect(mailbox.server.received.texts().filter((l) => l.startsWith('DELE'))).toEqual([]);
  });
});
