import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { poll } from '../../../functions/cli/poll-command';
import { replay, type ReplayIo } from '../../../functions/cli/replay-command';
import { makeMessages } from '../../support/poll-fixtures';
import { SCRIPTED_PASSWORD, startScriptedMailbox } from '../../support/scripted-mailbox';
import { tempDir } from '../../support/temp';

/**
 * `pop3-poller replay` end to end against a directory archive: a real poll of a fake mailbox
 * writes the archive and an events file; replay re-emits exactly those lines (plus
 * `detail.replay`), only those in range; a dry run writes nothing; the archive is untouched; and
 * an interrupted replay (SIGINT, then a hard kill) resumes without losing or repeating more than
 * the documented bound.
 */

const ROOT = resolve(__dirname, '../../..');

interface Captured {
  readonly io: ReplayIo;
  readonly out: () => string;
  readonly err: () => string;
}

function capture(): Captured {
  let out = '';
  let err = '';
  const unused = () => {
    throw new Error('no AWS client in a directory replay');
  };
  return {
    io: {
      stdout: { write: (t: string) => (out += t) },
      stderr: { write: (t: string) => (err += t) },
      live: false,
      clients: { s3: unused, eventBridge: unused, cloudFormation: unused },
      stop: new AbortController().signal,
    },
    out: () => out,
    err: () => err,
  };
}

/** Polls `messages` into `dir`'s archive, appending to its events file, as the CLI does. */
async function pollInto(dir: string, messages: Buffer[]): Promise<void> {
  const mailbox = await startScriptedMailbox(messages);
  const config = join(dir, 'poller.json');
  writeFileSync(
    config,
    JSON.stringify({
      accounts: [{ ...mailbox.account('support'), password: SCRIPTED_PASSWORD }],
      archive: { dir: join(dir, 'archive') },
      events: { file: join(dir, 'events.jsonl') },
    }),
    { mode: 0o600 },
  );
  const quiet = jest.spyOn(process.stderr, 'write').mockImplementation(() => true);
  try {
    expect(await poll(['--config', config])).toBe(0);
  } finally {
    quiet.mockRestore();
  }
  expect(mailbox.live.size).toBe(0);
  await mailbox.close();
}

const lines = (file: string): string[] =>
  existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean) : [];

/** A replayed line without its `detail.replay`, re-serialised: byte-equal to the original line. */
function unmarked(line: string): { line: string; replay: unknown } {
  const event = JSON.parse(line) as { detail: Record<string, unknown> };
  const { replay: marker, ...detail } = event.detail;
  return { line: JSON.stringify({ ...event, detail }), replay: marker };
}

/** Names, sizes, mtimes and hashes of everything under the archive. */
function snapshot(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => {
      const path = join(e.parentPath, e.name);
      const s = statSync(path);
      const hash = createHash('sha256').update(readFileSync(path)).digest('hex');
      return `${path} ${s.size} ${s.mtimeMs} ${hash}`;
    })
    .sort();
}

describe('pop3-poller replay --archive (end to end)', () => {
  const dir = tempDir('replay-e2e-');
  const archive = join(dir, 'archive');
  let before: string[];
  let since: string;

  beforeAll(async () => {
    await pollInto(dir, makeMessages(3, { batch: 'early' }));
    await sleep(20);
    since = new Date().toISOString();
    await sleep(20);
    await pollInto(dir, makeMessages(4, { batch: 'late' }));
    before = snapshot(archive);
  }, 60_000);

  it('re-emits exactly the poll’s lines of the messages in range, each marked with detail.replay', async () => {
    const polled = lines(join(dir, 'events.jsonl')).filter((l) => l.includes('"Message Archived"'));
    expect(polled).toHaveLength(7);
    const inRange = polled.slice(3);
    const out = join(dir, 'replayed.jsonl');
    const c = capture();

    const code = await replay(
      [
        '--archive',
        archive,
        '--account',
        'support',
        '--since',
        since,
        '--events-file',
        out,
        '--state',
        join(dir, 'state.json'),
      ],
      c.io,
    );

    expect({ code, err: c.err() }).toEqual({
      code: 0,
      err: expect.stringMatching(/complete: re-emitted 4 events of 4 messages/),
    });
    const replayed = lines(out).map(unmarked);
    // Same events, same bytes per line (ids, detail, time, source), in archive-key order.
    expect(replayed.map((r) => r.line).sort()).toEqual([...inRange].sort());
    const keyOf = (line: string) => (JSON.parse(line) as { detail: { key: string } }).detail.key;
    expect(replayed.map((r) => keyOf(r.line))).toEqual(inRange.map(keyOf).sort());
    const state = JSON.parse(readFileSync(join(dir, 'state.json'), 'utf8')) as {
      runId: string;
      requestedAt: string;
    };
    for (const r of replayed)
      expect(r.replay).toEqual({ runId: state.runId, requestedAt: state.requestedAt });
    expect(snapshot(archive)).toEqual(before);
  });

  it('--dry-run prints the count and the bytes, and writes nothing', async () => {
    const out = join(dir, 'dry.jsonl');
    const c = capture();
    const bytes = lines(join(dir, 'events.jsonl'))
      .filter((l) => l.includes('"Message Archived"'))
      .slice(3)
      .reduce((sum, l) => sum + (JSON.parse(l) as { detail: { size: number } }).detail.size, 0);

    const code = await replay(
      [
        '--archive',
        archive,
        '--since',
        since,
        '--events-file',
        out,
        '--dry-run',
        '--state',
        join(dir, 'dry-state.json'),
      ],
      c.io,
    );

    expect(code).toBe(0);
    expect(c.out()).toBe(
      `4 events of 4 messages (${bytes} octets, ${(bytes / 1024).toFixed(1)} KB) would be re-emitted\n`,
    );
    expect(existsSync(out)).toBe(false);
    expect(existsSync(join(dir, 'dry-state.json'))).toBe(false);
    expect(snapshot(archive)).toEqual(before);
  });

  it('--until and --header narrow the range; the whole archive comes without them', async () => {
    const run = async (...range: string[]) => {
      const out = join(tempDir('replay-range-'), 'out.jsonl');
      const c = capture();
      expect(
        await replay(['--archive', archive, '--events-file', out, '--state', `${out}.state`, ...range], c.io),
      ).toBe(0);
      return lines(out).map((l) => (JSON.parse(l) as { detail: { subject: string } }).detail.subject);
    };
    expect((await run('--until', since)).sort()).toEqual(['Message 1', 'Message 2', 'Message 3']);
    expect(await run('--header', 'subject: MESSAGE 2', '--header', 'Message-ID: late')).toEqual([
      'Message 2',
    ]);
    expect(await run()).toHaveLength(7);
  });

  it('shows progress on one rewritten line on a terminal, then the summary', async () => {
    const c = capture();
    const out = join(tempDir('replay-tty-'), 'out.jsonl');
    expect(
      await replay(['--archive', archive, '--events-file', out, '--state', `${out}.state`], {
        ...c.io,
        live: true,
      }),
    ).toBe(0);
    const progress = c.err().split('\r\x1b[K').filter(Boolean);
    expect(progress[0]).toMatch(
      /^replay: 1 events of 1 messages, [\d.]+ KB; \d+ listed; at support\/[0-9a-f]{64}\.eml$/,
    );
    expect(progress.at(-1)).toMatch(/^replay \S+ complete: re-emitted 7 events of 7 messages .*\n$/);
    expect(progress.slice(0, -1).every((line) => !line.includes('\n'))).toBe(true);
  });

  it('refuses bad usage before reading anything', async () => {
    await expect(replay(['--events-file', 'x'], capture().io)).rejects.toThrow(/needs a source/);
    await expect(replay(['--archive', archive], capture().io)).rejects.toThrow(/needs a destination/);
    await expect(
      replay(['--archive', archive, '--stdout', '--events-file', 'x'], capture().io),
    ).rejects.toThrow(/one destination/);
    await expect(
      replay(['--archive', archive, '--stdout', '--since', 'last week'], capture().io),
    ).rejects.toThrow(/--since expects a date/);
    await expect(
      replay(
        ['--archive', archive, '--stdout', '--since', '2026-12-02', '--until', '2026-12-01'],
        capture().io,
      ),
    ).rejects.toThrow(/--until must be later than --since/);
    await expect(replay(['--archive', join(dir, 'nope'), '--stdout'], capture().io)).rejects.toThrow(
      /not a directory/,
    );
    await expect(replay(['--resume', join(dir, 'state.json'), '--stdout'], capture().io)).rejects.toThrow(
      /only --rate may be given/,
    );
  });
});

describe('pop3-poller replay, interrupted and resumed', () => {
  const COUNT = 60;
  const dir = tempDir('replay-resume-');
  const archive = join(dir, 'archive');
  let all: string[];

  beforeAll(async () => {
    await pollInto(dir, makeMessages(COUNT, { batch: 'resume' }));
    all = lines(join(dir, 'events.jsonl')).filter((l) => l.includes('"Message Archived"'));
    expect(all).toHaveLength(COUNT);
  }, 60_000);

  /** Starts the CLI (from source) replaying the archive at 20 events/s; resolves at its exit. */
  function start(out: string, state: string) {
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        'functions/cli/main.ts',
        'replay',
        '--archive',
        archive,
        '--events-file',
        out,
        '--rate',
        '20',
        '--state',
        state,
      ],
      { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>(
      (done) => child.on('exit', (code, signal) => done({ code, signal, stderr })),
    );
    return { child, exited };
  }

  async function waitForLines(file: string, count: number): Promise<void> {
    for (let i = 0; i < 600 && lines(file).length < count; i++) await sleep(50);
    expect(lines(file).length).toBeGreaterThanOrEqual(count);
  }

  const ids = (file: string) => lines(file).map((l) => (JSON.parse(l) as { id: string }).id);
  const keyOf = (line: string) => (JSON.parse(line) as { detail: { key: string } }).detail.key;

  it('SIGINT: stops after the events in flight, says how to resume; the resume emits the rest, none twice', async () => {
    const out = join(dir, 'sigint.jsonl');
    const state = join(dir, 'sigint-state.json');
    const { child, exited } = start(out, state);
    await waitForLines(out, 12);
    child.kill('SIGINT');
    const stopped = await exited;

    expect(stopped.code).toBe(75);
    expect(stopped.stderr).toContain(`resume with:\n  pop3-poller replay --resume ${state}\n`);
    const first = lines(out);
    expect(first.length).toBeLessThan(COUNT);
    const saved = JSON.parse(readFileSync(state, 'utf8')) as {
      checkpoint: string;
      runId: string;
      complete: boolean;
    };
    expect(saved.complete).toBe(false);
    // A graceful stop checkpoints exactly what it published.
    expect(saved.checkpoint).toBe(keyOf(first.at(-1)!));

    const c = capture();
    expect(await replay(['--resume', state, '--rate', '0'], c.io)).toBe(0);
    const after = lines(out).slice(first.length);
    expect(after.every((l) => keyOf(l) > saved.checkpoint)).toBe(true);
    // Every event exactly once, all with the first run's marker.
    expect(ids(out).sort()).toEqual(all.map((l) => (JSON.parse(l) as { id: string }).id).sort());
    for (const l of lines(out)) expect(unmarked(l).replay).toMatchObject({ runId: saved.runId });
    expect(JSON.parse(readFileSync(state, 'utf8'))).toMatchObject({ complete: true, emitted: COUNT });
    // Resuming a finished run does nothing.
    expect(await replay(['--resume', state], c.io)).toBe(0);
    expect(lines(out)).toHaveLength(COUNT);
  }, 60_000);

  it('a hard kill: the resume re-emits nothing before the checkpoint, and at most one batch twice', async () => {
    const out = join(dir, 'kill.jsonl');
    const state = join(dir, 'kill-state.json');
    const { child, exited } = start(out, state);
    await waitForLines(out, 12);
    child.kill('SIGKILL');
    await exited;
    const first = lines(out);
    const saved = JSON.parse(readFileSync(state, 'utf8')) as { checkpoint: string | null };
    expect(saved.checkpoint).not.toBeNull();

    expect(await replay(['--resume', state, '--rate', '0'], capture().io)).toBe(0);
    const after = lines(out).slice(first.length);
    expect(after.every((l) => keyOf(l) > saved.checkpoint!)).toBe(true);
    const every = ids(out);
    expect(new Set(every)).toEqual(new Set(all.map((l) => (JSON.parse(l) as { id: string }).id)));
    // At-least-once: what was published after the last checkpoint, at most one batch (10 events).
    expect(every.length - COUNT).toBeLessThanOrEqual(10);
    // The archive holds what it held: the readers never write.
    expect(readdirSync(join(archive, 'support')).filter((n) => n.endsWith('.eml'))).toHaveLength(COUNT);
  }, 60_000);
});
