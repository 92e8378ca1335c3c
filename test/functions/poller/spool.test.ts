import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { MessageStream } from '../../../functions/pop3/message-stream';
import { PollError } from '../../../functions/poller/errors';
import { pollAccounts } from '../../../functions/poller/poll-accounts';
import { hashedBuffers } from '../../../functions/poller/ports';
import { Spool } from '../../../functions/poller/spool';
import { MemoryArchive, MemoryEventSink, StaticCredentials } from '../../support/memory-ports';
import { makeMessages } from '../../support/poll-fixtures';
import { SCRIPTED_PASSWORD, startScriptedMailbox } from '../../support/scripted-mailbox';

const ROOT = join(__dirname, '../../..');
const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

/** Every octet value, so any decoding or re-encoding on the way would show. */
const ALL_OCTETS = Buffer.from(Array.from({ length: 256 }, (_, i) => i));

function bytes(size: number, seed = 0): Buffer {
  const out = Buffer.alloc(size);
  for (let i = 0; i < size; i++) out[i] = ALL_OCTETS[(i * 7 + seed) % 256]!;
  return out;
}

function chunks(data: Buffer, size: number): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < data.length; i += size) out.push(data.subarray(i, i + size));
  return out;
}

async function* source(parts: readonly Buffer[], failAfter?: number): AsyncGenerator<Buffer> {
  let i = 0;
  for (const part of parts) {
    if (i++ === failAfter) throw new Error('connection lost mid-message');
    await Promise.resolve();
    yield part;
  }
}

async function readAll(stream: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const part of stream) parts.push(part as Buffer);
  return Buffer.concat(parts);
}

let dir: string;
const spools: Spool[] = [];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'spool-test-'));
});

afterEach(async () => {
  await Promise.all(spools.splice(0).map((s) => s.release()));
  rmSync(dir, { recursive: true, force: true });
});

async function spool(data: Buffer | readonly Buffer[], memoryLimitBytes: number): Promise<Spool> {
  const parts = Buffer.isBuffer(data) ? chunks(data, 1000) : data;
  const s = await Spool.fromStream(source(parts), { memoryLimitBytes, dir });
  spools.push(s);
  return s;
}

describe('Class: Spool', () => {
  describe('where the bytes are held', () => {
    it('keeps a message up to the memory limit in memory, writing no file', async () => {
      const data = bytes(4096);
      const s = await spool(data, 4096);
      expect(s.buffer?.equals(data)).toBe(true);
      expect(s.memoryBytes).toBe(4096);
      expect(readdirSync(dir)).toEqual([]);
    });

    it('moves a message one octet over the limit to a private temp file', async () => {
      const data = bytes(4097);
      const s = await spool(data, 4096);
      expect(s.buffer).toBeUndefined();
      expect(s.memoryBytes).toBe(0);
      const files = readdirSync(dir);
      expect(files).toHaveLength(1);
      const path = join(dir, files[0]!);
      expect(readFileSync(path).equals(data)).toBe(true);
      expect(statSync(path).mode & 0o777).toBe(0o600);
    });

    it('keeps the chunks received before the switch, in order, when the limit is crossed mid-chunk', async () => {
      const data = bytes(10_000, 3);
      // 3 KB chunks against a 4 KB limit: the second chunk crosses it.
      const s = await spool(chunks(data, 3000), 4096);
      expect(s.buffer).toBeUndefined();
      expect(readFileSync(join(dir, readdirSync(dir)[0]!)).equals(data)).toBe(true);
    });

    it('removes its default directory when the process ends (no empty directory left per CLI run)', () => {
      const tmp = mkdtempSync(join(tmpdir(), 'spool-exit-'));
      try {
        const script = [
          "const { Readable } = require('node:stream');",
          "const { Spool } = require('./functions/poller/spool');",
          'Spool.fromStream(Readable.from([Buffer.alloc(8192, 1)]), { memoryLimitBytes: 1024 })',
          '  .then(async (s) => { console.log(s.buffer ? "memory" : "spooled"); await s.release(); });',
        ].join('\n');
        const out = execFileSync(join(ROOT, 'node_modules/.bin/tsx'), ['-e', script], {
          cwd: ROOT,
          env: { ...process.env, TMPDIR: tmp },
          encoding: 'utf8',
        });
        expect(out.trim()).toBe('spooled');
        expect(readdirSync(tmp).filter((name) => name.startsWith('pop3-spool-'))).toEqual([]);
      } finally {
        rmSync(tmp, { recursive: true, force: true });
      }
    });

    it('holds an empty message in memory', async () => {
      const s = await spool([], 10);
      expect(s.size).toBe(0);
      expect(s.sha256).toBe(sha256(Buffer.alloc(0)));
      expect(s.buffer?.length).toBe(0);
    });
  });

  describe('hash and size', () => {
    it.each([
      ['in memory', 1 << 20],
      ['in a file', 100],
    ])('are those of the bytes received, whatever the chunking (%s)', async (_where, limit) => {
      const data = Buffer.concat([ALL_OCTETS, bytes(50_000, 11), ALL_OCTETS]);
      for (const chunkSize of [7, 255, 4096, data.length]) {
        const s = await spool(chunks(data, chunkSize), limit);
        expect(s.size).toBe(data.length);
        expect(s.sha256).toBe(sha256(data));
      }
    });
  });

  describe('reading back', () => {
    it.each([
      ['in memory', 1 << 20],
      ['in a file', 100],
    ])('body() gives the same bytes every time it is called (%s)', async (_where, limit) => {
      const data = bytes(300_000, 5);
      const s = await spool(data, limit);
      const first = await readAll(s.body());
      const second = await readAll(s.body());
      expect(first.equals(data)).toBe(true);
      expect(second.equals(data)).toBe(true);
      // Two streams at once (a store retrying while an earlier attempt is still draining).
      const [a, b] = await Promise.all([readAll(s.body()), readAll(s.body())]);
      expect(a.equals(data) && b.equals(data)).toBe(true);
    });

    it.each([
      ['in memory', 1 << 20],
      ['in a file', 100],
    ])('head(n) gives the first n octets, or all of a shorter message (%s)', async (_where, limit) => {
      const data = bytes(5000, 9);
      const s = await spool(data, limit);
      expect((await s.head(64)).equals(data.subarray(0, 64))).toBe(true);
      expect((await s.head(0)).length).toBe(0);
      expect((await s.head(1_000_000)).equals(data)).toBe(true);
    });
  });

  describe('release', () => {
    it('removes the temp file, and may be called again', async () => {
      const s = await spool(bytes(5000), 100);
      expect(readdirSync(dir)).toHaveLength(1);
      await s.release();
      expect(readdirSync(dir)).toEqual([]);
      await expect(s.release()).resolves.toBeUndefined();
    });

    it('is harmless for a spool held in memory', async () => {
      const data = bytes(50);
      const s = await spool(data, 100);
      await s.release();
      expect(s.buffer?.equals(data)).toBe(true);
    });
  });

  describe('a source that fails mid-message', () => {
    it('rejects with the source error and leaves no temp file behind', async () => {
      const parts = chunks(bytes(20_000), 1000);
      // The spool has switched to a file (limit 2 KB) by the time the source fails at chunk 10.
      await expect(Spool.fromStream(source(parts, 10), { memoryLimitBytes: 2048, dir })).rejects.toThrow(
        'connection lost mid-message',
      );
      expect(readdirSync(dir)).toEqual([]);
    });

    it('rejects before the switch to a file, too, writing nothing', async () => {
      const parts = chunks(bytes(20_000), 1000);
      await expect(Spool.fromStream(source(parts, 2), { memoryLimitBytes: 1 << 20, dir })).rejects.toThrow(
        'connection lost mid-message',
      );
      expect(readdirSync(dir)).toEqual([]);
    });

    it('rejects when the temp file cannot be created, leaving nothing behind', async () => {
      const missing = join(dir, 'does-not-exist');
      await expect(
        Spool.fromStream(source(chunks(bytes(5000), 1000)), { memoryLimitBytes: 100, dir: missing }),
      ).rejects.toMatchObject({
        code: 'EARCHIVE',
        message: expect.stringMatching(new RegExp(`^spool directory ${missing}: ENOENT: `)),
        cause: expect.objectContaining({ code: 'ENOENT' }),
      });
      expect(readdirSync(dir)).toEqual([]);
    });
  });

  describe('from a POP3 message stream (taken with collect, not read as a Readable)', () => {
    /** Feeds `parts` as the session would, a chunk per turn of the event loop, then ends. */
    function feed(parts: readonly Buffer[], fail?: Error): MessageStream {
      const stream = new MessageStream(1, () => {}, 16 * 1024);
      void (async () => {
        for (const part of parts) {
          await new Promise((resolve) => setImmediate(resolve));
          stream.deliver(part);
        }
        if (fail) stream.destroy(fail);
        else stream.finish();
      })();
      return stream;
    }

    it.each([
      ['in memory', 1 << 20, true],
      ['in a file, the limit crossed mid-message', 10_000, false],
    ])('holds the bytes received, with their hash (%s)', async (_where, limit, inMemory) => {
      const data = Buffer.concat([ALL_OCTETS, bytes(40_000, 5), ALL_OCTETS]);
      const s = await Spool.fromStream(feed(chunks(data, 4096)), { memoryLimitBytes: limit, dir });
      spools.push(s);
      expect(s.size).toBe(data.length);
      expect(s.sha256).toBe(sha256(data));
      expect(s.buffer === undefined).toBe(!inMemory);
      expect(readdirSync(dir)).toHaveLength(inMemory ? 0 : 1);
      expect((await readAll(s.body())).equals(data)).toBe(true);
    });

    it('hashes a message held in memory once, as the Buffer the archive gets, and records that digest', async () => {
      const data = Buffer.concat([ALL_OCTETS, bytes(20_000, 3)]);
      const s = await Spool.fromStream(feed(chunks(data, 4096)), { memoryLimitBytes: 1 << 20, dir });
      spools.push(s);
      expect(s.buffer!.equals(data)).toBe(true);
      expect(hashedBuffers.get(s.buffer!)).toBe(sha256(data));
      expect(s.sha256).toBe(sha256(data));
    });

    it('records no digest for a message that went to a file (the archive hashes what it reads)', async () => {
      const stream = feed(chunks(bytes(20_000, 4), 4096));
      const s = await Spool.fromStream(stream, { memoryLimitBytes: 4096, dir });
      spools.push(s);
      expect(s.buffer).toBeUndefined();
      expect(s.sha256).toBe(sha256(bytes(20_000, 4)));
    });

    it('goes to a file when the whole message arrived before it was collected but exceeds the limit', async () => {
      const data = bytes(9000, 2);
      const stream = new MessageStream(1, () => {}, 64 * 1024);
      for (const part of chunks(data, 1000)) stream.deliver(part);
      stream.finish();
      const s = await Spool.fromStream(stream, { memoryLimitBytes: 4096, dir });
      spools.push(s);
      expect(s.buffer).toBeUndefined();
      expect(readFileSync(join(dir, readdirSync(dir)[0]!)).equals(data)).toBe(true);
    });

    it('rejects with the session error, before or after the switch to a file, leaving nothing behind', async () => {
      for (const limit of [1 << 20, 2048]) {
        const lost = Object.assign(new Error('connection lost'), { code: 'ECONNECTION' });
        const stream = feed(chunks(bytes(8000), 1000), lost);
        await expect(Spool.fromStream(stream, { memoryLimitBytes: limit, dir })).rejects.toBe(lost);
        expect(readdirSync(dir)).toEqual([]);
      }
    });
  });

  it('is not blocked by temp files an earlier process with the same pid left behind', async () => {
    // A crashed run leaves its spool files in a configured spoolDir; a later process can get the
    // same pid (Lambda sandboxes, containers). Its files must neither block nor be overwritten.
    const leftovers = Array.from({ length: 300 }, (_, i) => `${process.pid}-${i + 1}.eml`);
    for (const name of leftovers) writeFileSync(join(dir, name), 'left over');
    const data = bytes(5000);
    const s = await spool(data, 100);
    expect(s.sha256).toBe(sha256(data));
    expect((await readAll(s.body())).equals(data)).toBe(true);
    for (const name of leftovers) expect(readFileSync(join(dir, name), 'utf8')).toBe('left over');
    await s.release();
    expect(readdirSync(dir).sort()).toEqual([...leftovers].sort());
  });

  it('keeps files of concurrent spools apart', async () => {
    const messages = Array.from({ length: 8 }, (_, i) => bytes(3000 + i, i));
    const all = await Promise.all(messages.map((m) => spool(m, 100)));
    expect(readdirSync(dir)).toHaveLength(8);
    for (const [i, s] of all.entries()) {
      expect(s.sha256).toBe(sha256(messages[i]!));
      expect((await readAll(s.body())).equals(messages[i]!)).toBe(true);
    }
  });
  it.each([
    ['ENOENT', () => '/proc/pop3-poller-spool'],
    [
      'ENOTDIR',
      () => {
        writeFileSync(join(dir, 'file'), 'x');
        return join(dir, 'file');
      },
    ],
  ])(
    '%s: a spool file that cannot be made fails with EARCHIVE naming the spool directory',
    async (errno, dirOf) => {
      const spoolDir = dirOf();

      const error = await Spool.fromStream(source(chunks(bytes(5000), 1000)), {
        memoryLimitBytes: 100,
        dir: spoolDir,
      }).catch((e: unknown) => e);

      expect(error).toBeInstanceOf(PollError);
      expect(error).toMatchObject({ code: 'EARCHIVE', retryable: false });
      expect((error as Error).message).toMatch(
        new RegExp(`^spool directory ${spoolDir}: ${errno}: [^\\n]+$`),
      );
    },
  );

  it('a poll whose spool directory cannot be written deletes nothing and ends', async () => {
    const messages = makeMessages(3, { bodyBytes: 50_000, batch: 'spool' });
    const mailbox = await startScriptedMailbox(messages);

    const [result] = await pollAccounts(
      [mailbox.account('support')],
      {
        credentials: new StaticCredentials({ support: { password: SCRIPTED_PASSWORD } }),
        archive: new MemoryArchive(),
        events: new MemoryEventSink(),
      },
      { runId: 'spool-proc', spoolDir: '/proc/pop3-poller-spool', spoolMemoryLimitBytes: 1024 },
    );

    expect(result).toMatchObject({ status: 'partial', fetched: 0, archived: 0, deleted: 0 });
    expect(result!.messageErrors[0]).toMatchObject({ code: 'EARCHIVE', retryable: false });
    expect(result!.messageErrors[0]!.message).toContain('spool directory /proc/pop3-poller-spool: ENOENT');
    expect(mailbox.server.received.texts().filter((l) => l.startsWith('DELE'))).toEqual([]);
    expect([...mailbox.live.values()].map((m) => m.bytes)).toEqual(messages);
  });
});
