import { createHash } from 'node:crypto';
import {
  archiveKey,
  HARD_STOP_GRACE_MS,
  pollAccount,
  type AccountResult,
  type PollOptions,
} from '../../../functions/poller';
import { startHostileMailbox, type Fault, type HostileMailbox } from '../../support/hostile-pop3-server';
import { MemoryArchive, MemoryEventSink, StaticCredentials } from '../../support/memory-ports';
import { tempDir } from '../../support/temp';

/**
 * The hard stop (functions/poller/hard-stop.ts): a session still running `hardStopGraceMs` after
 * the deadline is dropped without QUIT. Against a server that streams one endless RETR as fast as
 * the client reads, and one that trickles it just above the idle watchdog's rate (1 KiB per idle
 * period), neither of which the idle timeout ends, the poll resolves at deadline + grace, nothing
 * is deleted, what was archived before is byte-exact, and the result says EDEADLINE.
 */

const PASSWORD = 'hard-stop-secret';
const DEADLINE_MS = 500;
const GRACE_MS = 500;
/**
 * Time beyond deadline + grace for the cut connection to unwind (a shared two-core machine under
 * load). Without the hard stop, these polls run for minutes to hours.
 */
const SLACK_MS = 2000;
/** Long enough that only the watchdog's rate, never its silence, could end the trickle. */
const TIMEOUTS = { connectMs: 2000, greetingMs: 10_000, idleMs: 600 };

const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');
const message = (n: number) =>
  Buffer.from(`Subject: message ${n}\r\nMessage-ID: <${n}@hard.stop>\r\n\r\nbody ${n}\r\n`);

let mailbox: HostileMailbox | undefined;
afterEach(async () => {
  await mailbox?.close();
  mailbox = undefined;
});

async function pollHostile(
  faults: readonly Fault[],
  options: Partial<PollOptions> = {},
): Promise<{ result: AccountResult; elapsedMs: number; archive: MemoryArchive; events: MemoryEventSink }> {
  mailbox = await startHostileMailbox({
    messages: [message(1), message(2), message(3)],
    password: PASSWORD,
    capabilities: ['PIPELINING'],
    faults,
  });
  const archive = new MemoryArchive();
  const events = new MemoryEventSink();
  const started = Date.now();
  const result = await pollAccount(
    {
      id: 'hard',
      host: '127.0.0.1',
      port: mailbox.port,
      tls: 'none',
      allowPlaintextAuth: true,
      username: 'alice',
    },
    { credentials: new StaticCredentials({ hard: { password: PASSWORD } }), archive, events },
    {
      runId: 'hard-stop',
      deadline: new Date(started + DEADLINE_MS),
      hardStopGraceMs: GRACE_MS,
      timeouts: TIMEOUTS,
      spoolDir: tempDir('hard-stop-spool-'),
      ...options,
    },
  );
  return { result, elapsedMs: Date.now() - started, archive, events };
}

/** Messages 1 and 2 archived byte-exact and announced; nothing committed on the server. */
function expectCutAfterTwo(result: AccountResult, archive: MemoryArchive, events: MemoryEventSink): void {
  expect(result).toMatchObject({
    status: 'failed',
    stoppedBy: 'deadline',
    fetched: 2,
    archived: 2,
    deleted: 0,
    remaining: 3,
    error: { code: 'EDEADLINE', retryable: true },
  });
  expect(result.error!.message).toContain('without QUIT');
  expect(archive.contents()).toEqual([message(1), message(2)].sort(Buffer.compare));
  for (const n of [1, 2])
    expect(archive.objects.get(archiveKey('hard', sha256(message(n))))!.equals(message(n))).toBe(true);
  expect(events.ofType('Message Archived')).toHaveLength(2);
  // RFC 1939 §6: without QUIT the server removes nothing, whatever DELEs it accepted.
  expect(mailbox!.committed()).toEqual([]);
  expect(mailbox!.commands(0)).toContain('RETR 3');
  expect(mailbox!.commands(0)).not.toContain('QUIT');
}

describe('Hard stop: pollAccount past its deadline', () => {
  it('has a documented default grace of 10 s', () => {
    expect(HARD_STOP_GRACE_MS).toBe(10_000);
  });

  it('cuts an endless RETR streamed at full speed at deadline + grace, deleting nothing', async () => {
    // At the default limit (512 MiB, and as much again discarded) loopback can end it first
    // (ELIMIT: 1 GiB in ~1.7 s here); with 4 GiB only the hard stop can.
    const { result, elapsedMs, archive, events } = await pollHostile(
      [{ kind: 'endless', verb: 'RETR', nth: 2 }],
      {
        maxMessageBytes: 4 * 1024 ** 3,
      },
    );
    expectCutAfterTwo(result, archive, events);
    expect(elapsedMs).toBeGreaterThanOrEqual(DEADLINE_MS + GRACE_MS - 50);
    expect(elapsedMs).toBeLessThan(DEADLINE_MS + GRACE_MS + SLACK_MS);
  });

  it('cuts an endless RETR trickled just above the watchdog rate at deadline + grace', async () => {
    // 1100 octets every 200 ms: more than MIN_PROGRESS_OCTETS (1 KiB) in every 600 ms idle period.
    const { result, elapsedMs, archive, events } = await pollHostile([
      { kind: 'trickle', verb: 'RETR', nth: 2, octets: 1100, everyMs: 200 },
    ]);
    expectCutAfterTwo(result, archive, events);
    expect(elapsedMs).toBeGreaterThanOrEqual(DEADLINE_MS + GRACE_MS - 50);
    expect(elapsedMs).toBeLessThan(DEADLINE_MS + GRACE_MS + SLACK_MS);
  });

  it('cuts a login the server never answers, long before its greeting timeout', async () => {
    const { result, elapsedMs, archive } = await pollHostile([{ kind: 'silent', verb: 'greeting', nth: 0 }], {
      timeouts: { connectMs: 2000, greetingMs: 10_000, idleMs: 10_000 },
    });
    expect(result).toMatchObject({
      status: 'failed',
      archived: 0,
      deleted: 0,
      error: { code: 'EDEADLINE', retryable: true },
    });
    expect(archive.objects.size).toBe(0);
    expect(elapsedMs).toBeLessThan(DEADLINE_MS + GRACE_MS + SLACK_MS);
  });

  it('does not connect for an account begun after the deadline and its grace', async () => {
    const { result } = await pollHostile([], {
      deadline: new Date(Date.now() - 2000),
      hardStopGraceMs: 1000,
    });
    expect(result).toMatchObject({
      status: 'failed',
      listed: 0,
      deleted: 0,
      stoppedBy: 'deadline',
      error: { code: 'EDEADLINE', retryable: true },
    });
    expect(result.error!.message).toContain('before this account began');
    expect(mailbox!.connections()).toBe(0);
  });

  it('does not fire when the session ends within the grace: the messages in flight are deleted', async () => {
    const { result, archive } = await pollHostile([], { deadline: new Date(Date.now() + 60_000) });
    expect(result).toMatchObject({ status: 'ok', archived: 3, deleted: 3 });
    expect(result.error).toBeUndefined();
    expect(archive.objects.size).toBe(3);
    expect(mailbox!.committed()).toEqual([0]);
  });
});
