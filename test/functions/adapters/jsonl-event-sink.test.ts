import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import type { PublishFailure } from '../../../functions/adapters/eventbridge-sink';
import { JsonLinesEventSink } from '../../../functions/adapters/jsonl-event-sink';
import type { PollEvent, PollSummaryDetail } from '../../../functions/poller/events';
import { pollAccounts } from '../../../functions/poller/poll-accounts';
import { MemoryArchive, StaticCredentials } from '../../support/memory-ports';
import { describeAsRoot, fullTmpfs, readOnlyDir } from '../../support/mounts';
import { makeMessages } from '../../support/poll-fixtures';
import { SCRIPTED_PASSWORD, startScriptedMailbox } from '../../support/scripted-mailbox';

function eventOf(n: number): PollEvent<PollSummaryDetail> {
  return {
    id: `id-${n}`,
    source: 'pop3-poller',
    detailType: 'Poll Completed',
    time: '2025-03-01T12:00:00.000Z',
    detail: {
      accountId: 'support',
      runId: `run-${n}`,
      status: 'ok',
      listed: n,
      fetched: n,
      archived: n,
      deleted: n,
      bytes: 100 * n,
      durationMs: 5,
      remaining: 0,
      errorMessage: 'ünïcödé\nand a newline',
    },
  };
}

const linesOf = (text: string) =>
  text
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as unknown);

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'jsonl-test-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('Class: JsonLinesEventSink', () => {
  it('writes one JSON object per line with id, source, detailType, time and detail', async () => {
    const file = join(dir, 'events.jsonl');
    const events = [eventOf(1), eventOf(2)];

    await expect(new JsonLinesEventSink({ file }).publish(events)).resolves.toEqual({ failedIds: [] });

    const text = await readFile(file, 'utf8');
    expect(text.endsWith('\n')).toBe(true);
    expect(text.split('\n')).toHaveLength(3);
    expect(linesOf(text)).toEqual(events);
    expect(Object.keys(linesOf(text)[0] as object)).toEqual(['id', 'source', 'detailType', 'time', 'detail']);
  });

  it('appends across calls and instances, and never truncates what was there', async () => {
    const file = join(dir, 'events.jsonl');
    await writeFile(file, '{"existing":true}\n');

    await new JsonLinesEventSink({ file }).publish([eventOf(1)]);
    const second = new JsonLinesEventSink({ file });
    await second.publish([eventOf(2)]);
    await second.publish([eventOf(3), eventOf(4)]);

    expect(linesOf(await readFile(file, 'utf8'))).toEqual([
      { existing: true },
      eventOf(1),
      eventOf(2),
      eventOf(3),
      eventOf(4),
    ]);
  });

  it('does not touch the file for an empty publish', async () => {
    const file = join(dir, 'events.jsonl');

    await new JsonLinesEventSink({ file }).publish([]);

    await expect(readFile(file)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('writes to stdout when asked', async () => {
    const out = new PassThrough();
    const chunks: Buffer[] = [];
    out.on('data', (chunk: Buffer) => chunks.push(chunk));

    await new JsonLinesEventSink({ stdout: true, stdoutStream: out }).publish([eventOf(1), eventOf(2)]);

    expect(linesOf(Buffer.concat(chunks).toString('utf8'))).toEqual([eventOf(1), eventOf(2)]);
  });

  it('reports every id as failed when the file cannot be written, without throwing', async () => {
    const failures: PublishFailure[] = [];
    // A directory where the file should be: open(…, 'a') fails with EISDIR, which no retry mends.
    const sink = new JsonLinesEventSink({ file: dir, onFailure: (f) => failures.push(f) });

    await expect(sink.publish([eventOf(1), eventOf(2)])).resolves.toEqual({
      failedIds: ['id-1', 'id-2'],
      retryable: false,
    });
    expect(failures).toEqual([
      {
        ids: ['id-1', 'id-2'],
        errorCode: 'EISDIR',
        errorMessage: `events file ${dir}: EISDIR, is a directory`,
      },
    ]);
  });
});

describeAsRoot('Class: JsonLinesEventSink, on a file system that cannot take the events', () => {
  // Retryable as the same OS error on the archive is (errors.ts localPathError): a full disk can
  // clear by itself, a read-only mount cannot.
  it.each([
    ['EROFS', false, () => join(readOnlyDir(), 'events.jsonl')],
    ['ENOSPC', true, () => join(fullTmpfs(), 'events.jsonl')],
  ])(
    '%s: every id failed (retryable: %s), one line naming the file, and a poll deletes nothing',
    async (errno, retryable, fileOf) => {
      const file = fileOf();
      const failures: PublishFailure[] = [];
      const sink = new JsonLinesEventSink({ file, onFailure: (f) => failures.push(f) });

      await expect(sink.publish([eventOf(1)])).resolves.toEqual({ failedIds: ['id-1'], retryable });
      expect(failures).toEqual([
        {
          ids: ['id-1'],
          errorCode: errno,
          errorMessage: expect.stringMatching(new RegExp(`^events file ${file}: ${errno}, [^\n]+$`)),
        },
      ]);

      // The workflow: archived, but the event failed, so no DELE; the message stays on the server.
      const messages = makeMessages(2, { batch: errno });
      const mailbox = await startScriptedMailbox(messages);
      const archive = new MemoryArchive();
      const [result] = await pollAccounts(
        [mailbox.account('support')],
        {
          credentials: new StaticCredentials({ support: { password: SCRIPTED_PASSWORD } }),
          archive,
          events: sink,
        },
        { runId: `events-${errno}` },
      );
      expect(result).toMatchObject({ status: 'failed', deleted: 0 });
      expect(result!.messageErrors[0]).toMatchObject({ code: 'EEVENTS', retryable });
      expect([...mailbox.live.values()].map((m) => m.bytes)).toEqual(messages);
      expect(mailbox.server.received.texts().filter((l) => l.startsWith('DELE'))).toEqual([]);
    },
  );
});
