import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import fc from 'fast-check';
import { archiveKey } from '../../functions/poller/archive-key';
import { bytes } from './wire';
import {
  ACCOUNT,
  checkDele,
  PASSWORD,
  plainCase,
  SECRETS,
  sentBodies,
  sessionCase,
  sha256,
  startCaseMailbox,
  type SessionCase,
} from './session-cases';

/**
 * Whole-CLI runs against the hostile mailbox: the bundled bin (scripts/bundle-cli.mjs), run as a
 * user runs it, `node pop3-poller.js poll --config FILE`, with its default timeouts (connect and
 * greeting 15 s, idle 60 s). Asserted: it exits within its timeouts, with a code in {0, 1, 2, 75},
 * no stack trace ("    at " lines) and no password on stdout or stderr; a DELE reaches the server
 * only once the message is in the archive directory and its event in the events file; every
 * archived file is a RETR body the server sent (unmutated: one of its messages).
 */

const ROOT = resolve(__dirname, '../..');
const EXIT_CODES = new Set([0, 1, 2, 75]);

export interface CliCase {
  readonly name: string;
  readonly session: SessionCase;
  /** Longest run expected, with the CLI's default timeouts and slack for start-up and a loaded machine. */
  readonly boundMs: number;
  /** What a well-behaved case must come to. */
  readonly expect?: { readonly exitCode: number; readonly archived: number; readonly deleted: number };
  /** `limits.timeoutSeconds` and `limits.maxMessageBytes` in the config. */
  readonly timeoutSeconds?: number;
  readonly maxMessageBytes?: number;
  /** The whole of stderr must match (e.g. one summary line). */
  readonly stderr?: RegExp;
}

const text = (s: string) => Buffer.from(s, 'latin1');
const messages = [
  bytes('Subject: one\r\n\r\n.\r\n..two dots\r\nplain \xe9\xff\r\n'),
  bytes('Subject: two\r\n\r\nbare\nLF lines\n.\n'),
  bytes('Subject: three\r\n\r\n', 'z'.repeat(70), '\r\n'),
];
const base = plainCase(messages);
const FAST_MS = 12_000;

/** Cases that end in a second or two: the CI short form. */
export const FAST_CLI_CASES: readonly CliCase[] = [
  {
    name: 'a clean mailbox with dot-stuffed and bare-LF lines',
    session: base,
    boundMs: FAST_MS,
    expect: { exitCode: 0, archived: 3, deleted: 3 },
  },
  {
    name: 'the connection closed in the middle of the second RETR',
    session: { ...base, faults: [{ kind: 'close', verb: 'RETR', nth: 1, at: 0.5 }] },
    boundMs: FAST_MS,
  },
  { name: 'a garbage greeting', session: { ...base, greeting: 'garbage' }, boundMs: FAST_MS },
  { name: 'an -ERR greeting quoting the password', session: { ...base, greeting: 'err' }, boundMs: FAST_MS },
  {
    name: 'the password echoed back as a reply line after login',
    session: {
      ...base,
      faults: [
        {
          kind: 'mutate',
          verb: 'CAPA',
          nth: 1,
          mutations: [{ kind: 'insert', at: 0, data: text(`PASS ${PASSWORD}\r\n`) }],
        },
      ],
    },
    boundMs: FAST_MS,
  },
  {
    name: 'LIST and UIDL that lie: sizes, extra and duplicate entries, duplicate UIDs',
    session: { ...base, list: 'extra', uidls: 'duplicate', extraUidl: true },
    boundMs: FAST_MS,
  },
  {
    name: 'a dot-stuffing error and bare LFs in a RETR reply',
    session: {
      ...base,
      faults: [
        {
          kind: 'mutate',
          verb: 'RETR',
          nth: 0,
          mutations: [
            { kind: 'unstuff', at: 0 },
            { kind: 'lineEndings', at: 0, to: 'lf' },
          ],
        },
      ],
    },
    boundMs: FAST_MS,
  },
  {
    name: 'an overlong line without CRLF where the UIDL reply belongs',
    session: {
      ...base,
      faults: [
        {
          kind: 'mutate',
          verb: 'UIDL',
          nth: 0,
          mutations: [{ kind: 'insert', at: 0, data: Buffer.alloc(5000, 0x41) }],
        },
      ],
    },
    boundMs: FAST_MS,
  },
];

/**
 * Replies that no timeout ends: an endless RETR at full speed, and one trickled just above the idle
 * watchdog's rate (for days, at the default limits). With `limits.timeoutSeconds` 1 the hard stop
 * drops the session 1 s after the deadline (the grace is the timeout itself when under 10 s),
 * without QUIT: exit 75 and one summary line saying EDEADLINE. (At full speed, loopback delivers
 * the default limit's 1 GiB, 512 MiB + as much discarded, in ~1.7 s, ELIMIT: that case raises the
 * limit to 4 GiB so that only the hard stop can end it.)
 */
export const HARD_STOP_CLI_CASES: readonly CliCase[] = (['endless', 'trickle'] as const).map((kind) => ({
  name: `an endless RETR (${kind === 'endless' ? 'at full speed' : 'trickled above the watchdog rate'}) with limits.timeoutSeconds 1`,
  session: { ...base, faults: [{ kind, verb: 'RETR', nth: 2 }] },
  timeoutSeconds: 1,
  ...(kind === 'endless' ? { maxMessageBytes: 4 * 1024 ** 3 } : {}),
  // 1 s timeout + 1 s grace, and slack for start-up and a loaded machine.
  boundMs: 6000,
  expect: { exitCode: 75, archived: 2, deleted: 0 },
  stderr:
    /^fuzz +failed +fetched 2 +archived 2 +deleted 0 .* remaining 3 \(deadline\) +error EDEADLINE: [^\n]*without QUIT[^\n]*\n$/,
}));

/** Cases that wait for the CLI's default timeouts: the long form only. */
export const SLOW_CLI_CASES: readonly CliCase[] = [
  {
    name: 'a server that never greets',
    session: { ...base, faults: [{ kind: 'silent', verb: 'greeting', nth: 0 }] },
    boundMs: 25_000,
  },
  {
    name: 'a server that never answers RETR',
    session: { ...base, faults: [{ kind: 'silent', verb: 'RETR', nth: 0 }] },
    boundMs: 75_000,
  },
  {
    // 3 KB at 10 octets a second would take five minutes: the idle watchdog (60 s) cuts it.
    name: 'a 3 KB RETR dripped one octet per 100 ms',
    session: {
      ...base,
      messages: [bytes('Subject: slow\r\n\r\n', `${'s'.repeat(70)}\r\n`.repeat(42))],
      faults: [{ kind: 'drip', verb: 'RETR', nth: 0 }],
    },
    boundMs: 135_000,
  },
];

/**
 * `count` cases drawn with `seed`. `quick`: only cuts (the CLI sees the close at once); otherwise
 * any mutation but no silence or drip, bounded by the default idle timeout (a mutated reply that
 * lost bytes leaves the CLI waiting for them).
 */
export function drawnCliCases(seed: number, count: number, quick: boolean): CliCase[] {
  const allowed = sessionCase.filter((c) =>
    c.faults.every((f) => f.kind === 'close' || (!quick && f.kind === 'mutate')),
  );
  return fc.sample(allowed, { seed, numRuns: count }).map((session, i) => ({
    name: `drawn ${quick ? 'quick ' : ''}case ${i} (FUZZ_SEED=${seed})`,
    session,
    boundMs: quick ? FAST_MS : 75_000,
  }));
}

/** Bundles the CLI into `dir` as a user gets it (the package's bin); returns its path. */
export async function bundleCli(dir: string): Promise<string> {
  const bin = join(dir, 'pop3-poller.js');
  await promisify(execFile)(process.execPath, ['scripts/bundle-cli.mjs', bin], { cwd: ROOT });
  return bin;
}

export interface CliOutcome {
  readonly violations: string[];
  readonly exitCode: number | null;
  readonly elapsedMs: number;
  readonly stderr: string;
}

export async function runCliCase(bin: string, c: CliCase): Promise<CliOutcome> {
  const dir = mkdtempSync(join(tmpdir(), 'pop3-fuzz-cli-'));
  const archiveDir = join(dir, 'archive');
  const eventsFile = join(dir, 'events.jsonl');
  const violations: string[] = [];
  const archived = (body: Buffer) => {
    const file = join(archiveDir, archiveKey(ACCOUNT, sha256(body)));
    return existsSync(file) && readFileSync(file).equals(body);
  };
  const announced = (body: Buffer) => {
    if (!existsSync(eventsFile)) return false;
    const digest = sha256(body);
    return readFileSync(eventsFile, 'utf8')
      .split('\n')
      .filter(Boolean)
      .some((line) => {
        const event = JSON.parse(line) as { detailType: string; detail: { sha256?: string } };
        return event.detailType === 'Message Archived' && event.detail.sha256 === digest;
      });
  };
  const mailbox = await startCaseMailbox(c.session, ({ connection, messageNumber }) =>
    violations.push(...checkDele(c.session, mailbox, connection, messageNumber, { archived, announced })),
  );
  const config = join(dir, 'config.json');
  writeFileSync(
    config,
    JSON.stringify({
      accounts: [
        {
          id: ACCOUNT,
          host: '127.0.0.1',
          port: mailbox.port,
          tls: 'none',
          allowPlaintextAuth: true,
          username: 'alice',
          password: PASSWORD,
          authMethod: c.session.authMethod,
        },
      ],
      archive: { dir: archiveDir },
      events: { file: eventsFile },
      limits: {
        ...(c.timeoutSeconds !== undefined ? { timeoutSeconds: c.timeoutSeconds } : {}),
        ...(c.maxMessageBytes !== undefined ? { maxMessageBytes: c.maxMessageBytes } : {}),
      },
    }),
    // Owner-only, as docs/cli.md asks of a config holding a password (else the CLI warns on stderr).
    { mode: 0o600 },
  );
  const started = Date.now();
  try {
    const child = spawn(process.execPath, [bin, 'poll', '--config', config], {
      cwd: dir,
      env: { PATH: process.env.PATH ?? '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString('utf8')));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
    let killed = false;
    const timer = setTimeout(() => {
      killed = true;
      child.kill('SIGKILL');
    }, c.boundMs);
    const exitCode = await new Promise<number | null>((done) => child.on('close', (code) => done(code)));
    clearTimeout(timer);
    const elapsedMs = Date.now() - started;
    if (killed) violations.push(`the CLI did not exit within ${c.boundMs} ms (killed)`);
    else if (exitCode === null || !EXIT_CODES.has(exitCode)) violations.push(`exit code ${exitCode}`);
    const output = `${stdout}\n${stderr}`;
    if (/^ {4}at /m.test(output))
      violations.push(`a stack trace reached the user:\n${output.slice(0, 2000)}`);
    for (const secret of SECRETS)
      if (output.includes(secret)) violations.push('the password appears in the output');
    if (exitCode !== 0 && stderr.trim() === '') violations.push('a failure with nothing on stderr');
    if (c.stderr && !c.stderr.test(stderr)) violations.push(`stderr does not match ${c.stderr}: ${stderr}`);
    // Every archived file is a RETR body the server sent; unmutated, one of its messages.
    const sent = sentBodies(mailbox);
    const mutated = c.session.faults.some((f) => f.kind === 'mutate');
    const accountDir = join(archiveDir, ACCOUNT);
    const files = existsSync(accountDir) ? readdirSync(accountDir).filter((f) => f.endsWith('.eml')) : [];
    if (c.expect) {
      const deleted = mailbox.commands(0).filter((l) => l.startsWith('DELE ')).length;
      const got = { exitCode, archived: files.length, deleted: mailbox.committed().length > 0 ? deleted : 0 };
      if (JSON.stringify(got) !== JSON.stringify(c.expect)) {
        violations.push(
          `expected ${JSON.stringify(c.expect)}, got ${JSON.stringify(got)}: ${stderr.slice(0, 500)}`,
        );
      }
    }
    for (const file of files) {
      const stored = readFileSync(join(accountDir, file));
      if (!sent.some((b) => b.equals(stored)))
        violations.push(`archived ${file} is not a RETR body the server sent`);
      if (!mutated && !c.session.messages.some((m) => m.equals(stored)))
        violations.push(`archived ${file} is not a message`);
    }
    return { violations, exitCode, elapsedMs, stderr };
  } finally {
    await mailbox.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
