import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ARCHIVE_LOG_NAME } from '../../../functions/adapters/archive-log';
import { DirectoryArchiveReader } from '../../../functions/adapters/directory-archive-reader';
import type { ArchiveEntry } from '../../../functions/replay/ports';
import { makeMessage } from '../../support/poll-fixtures';
import { tempDir } from '../../support/temp';

/**
 * The directory archive as replay reads it: DirectoryArchiveStore's files joined with the
 * account's archive-log.jsonl (the archive-record contract), in key order, read-only.
 */

const sha = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

function archive() {
  const root = tempDir('replay-dir-');
  const put = (account: string, bytes: Buffer, mtime?: Date) => {
    mkdirSync(join(root, account), { recursive: true });
    const path = join(root, account, `${sha(bytes)}.eml`);
    writeFileSync(path, bytes);
    if (mtime) utimesSync(path, mtime, mtime);
    return `${account}/${sha(bytes)}.eml`;
  };
  const log = (account: string, lines: Array<Record<string, unknown> | string>) =>
    writeFileSync(
      join(root, account, ARCHIVE_LOG_NAME),
      lines.map((l) => (typeof l === 'string' ? l : JSON.stringify(l))).join('\n') + '\n',
      { flag: 'a' },
    );
  return { root, put, log };
}

async function all(iterable: AsyncIterable<ArchiveEntry>): Promise<ArchiveEntry[]> {
  const out: ArchiveEntry[] = [];
  for await (const e of iterable) out.push(e);
  return out;
}

async function bytesOf(reader: DirectoryArchiveReader, entry: ArchiveEntry): Promise<Buffer> {
  const opened = await reader.open(entry);
  const parts: Buffer[] = [];
  for await (const chunk of opened.body) parts.push(chunk);
  return Buffer.concat(parts);
}

describe('DirectoryArchiveReader', () => {
  it('lists an account’s messages in key order with their original events from the log', async () => {
    const a = archive();
    const m = [1, 2, 3].map((n) => makeMessage(n));
    const keys = m.map((bytes) => a.put('support', bytes, new Date('2026-11-01T00:00:00.000Z')));
    const line = (i: number, uidl: string | null, archivedAt: string, source = 'pop3-poller') => ({
      key: keys[i],
      sha256: sha(m[i]!),
      size: m[i]!.length,
      uidl,
      archivedAt,
      source,
    });
    a.log('support', [
      line(0, 'UID-1', '2026-12-01T10:00:00.000Z'),
      // The same bytes under a second UIDL: a second original event.
      line(0, 'UID-9', '2026-12-01T10:01:00.000Z'),
      // Stored again after an interrupted run: the same event; the first line wins.
      line(0, 'UID-1', '2026-12-02T10:00:00.000Z'),
      line(1, null, '2026-12-01T11:00:00.000Z', 'ses'),
      // A line torn by a crash mid-append: its put never resolved.
      '{"key":"support/ab',
    ]);
    const reader = new DirectoryArchiveReader({ dir: a.root });

    const entries = await all(reader.list('support'));

    expect(entries.map((e) => e.key)).toEqual([...keys].sort());
    const byKey = new Map(entries.map((e) => [e.key, e]));
    expect(byKey.get(keys[0]!)).toEqual({
      accountId: 'support',
      key: keys[0],
      sha256: sha(m[0]!),
      size: m[0]!.length,
      location: pathToFileURL(join(a.root, keys[0]!)).href,
      modifiedAt: new Date('2026-11-01T00:00:00.000Z'),
      records: [
        { uidl: 'UID-1', archivedAt: new Date('2026-12-01T10:00:00.000Z'), source: 'pop3-poller' },
        { uidl: 'UID-9', archivedAt: new Date('2026-12-01T10:01:00.000Z'), source: 'pop3-poller' },
      ],
    });
    expect(byKey.get(keys[1]!)!.records).toEqual([
      { uidl: null, archivedAt: new Date('2026-12-01T11:00:00.000Z'), source: 'ses' },
    ]);
    // No log line (an older archive, a file copied in): no UIDL, archived at its mtime.
    expect(byKey.get(keys[2]!)!.records).toEqual([
      { uidl: null, archivedAt: new Date('2026-11-01T00:00:00.000Z'), source: 'pop3-poller' },
    ]);
    expect(await bytesOf(reader, byKey.get(keys[2]!)!)).toEqual(m[2]);
  });

  it('ignores temp files, other names and dot-folders; an account without a folder has nothing', async () => {
    const a = archive();
    const key = a.put('support', makeMessage(1));
    writeFileSync(join(a.root, 'support', `.${key.split('/')[1]}.123.abc.1.tmp`), 'half written');
    writeFileSync(join(a.root, 'support', 'notes.txt'), 'x');
    writeFileSync(join(a.root, 'support', `${'A'.repeat(64)}.eml`), 'not lower-case hex');
    mkdirSync(join(a.root, '.state'));
    a.put('sales', makeMessage(2));
    const reader = new DirectoryArchiveReader({ dir: a.root });
    expect(await reader.accounts()).toEqual(['sales', 'support']);
    expect((await all(reader.list('support'))).map((e) => e.key)).toEqual([key]);
    expect(await all(reader.list('nobody'))).toEqual([]);
  });

  it('starts after a checkpoint and keeps to a key prefix', async () => {
    const a = archive();
    const keys = [1, 2, 3, 4, 5].map((n) => a.put('support', makeMessage(n))).sort();
    const reader = new DirectoryArchiveReader({ dir: a.root });
    expect((await all(reader.list('support', { startAfter: keys[1] }))).map((e) => e.key)).toEqual(
      keys.slice(2),
    );
    const prefix = keys[3]!.slice(0, 'support/'.length + 3);
    expect((await all(reader.list('support', { keyPrefix: prefix }))).map((e) => e.key)).toEqual(
      keys.filter((k) => k.startsWith(prefix)),
    );
  });

  it('writes nothing: names, sizes and mtimes are the same after listing and reading everything', async () => {
    const a = archive();
    for (let n = 1; n <= 3; n++) a.put('support', makeMessage(n), new Date('2026-11-01T00:00:00.000Z'));
    a.log('support', [
      { key: 'support/x.eml', sha256: 'x', size: 1, uidl: null, archivedAt: '2026-12-01T00:00:00.000Z' },
    ]);
    const snapshot = () =>
      readdirSync(join(a.root, 'support'))
        .sort()
        .map((name) => {
          const s = statSync(join(a.root, 'support', name));
          return `${name} ${s.size} ${s.mtimeMs}`;
        });
    const before = snapshot();
    const reader = new DirectoryArchiveReader({ dir: a.root });
    for (const entry of await all(reader.list('support'))) await bytesOf(reader, entry);
    expect(snapshot()).toEqual(before);
  });

  it('reads every message byte for byte: small ones in one read, one over 1 MiB as a stream', async () => {
    const a = archive();
    const small = Buffer.concat([makeMessage(1), Buffer.from([0, 0xff, 0x0d])]);
    const large = Buffer.alloc(3 * 1024 * 1024 + 5);
    for (let i = 0; i < large.length; i++) large[i] = (i * 31) & 0xff;
    const keys = [a.put('support', small), a.put('support', large)];
    const reader = new DirectoryArchiveReader({ dir: a.root });

    const read = new Map<string, Buffer>();
    for (const entry of await all(reader.list('support'))) read.set(entry.key, await bytesOf(reader, entry));

    expect(read.get(keys[0]!)!.equals(small)).toBe(true);
    expect(read.get(keys[1]!)!.equals(large)).toBe(true);
    // The large one came in more than one piece (streamed, not read whole).
    const [largeEntry] = (await all(reader.list('support'))).filter((e) => e.key === keys[1]);
    let pieces = 0;
    for await (const _ of (await reader.open(largeEntry!)).body) pieces += 1;
    expect(pieces).toBeGreaterThan(1);
  });

  it('names the archive directory and the OS error when it cannot be read', async () => {
    const reader = new DirectoryArchiveReader({ dir: join(tempDir('replay-dir-'), 'missing') });
    await expect(reader.accounts()).rejects.toMatchObject({
      code: 'EARCHIVE',
      retryable: false,
      message: expect.stringMatching(/^archive directory .*missing: ENOENT, no such file or directory/),
    });
  });
});
