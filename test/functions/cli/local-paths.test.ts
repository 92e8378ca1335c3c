import { execFileSync, spawn } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdirSync,
  readFileSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join, resolve } from 'node:path';
import {
  describeAsRoot,
  fillUp,
  fullTmpfs,
  mountTmpfs,
  readOnlyDir,
  remountReadOnly,
  rootOwnedDir,
  UNPRIVILEGED,
} from '../../support/mounts';
import { makeMessages } from '../../support/poll-fixtures';
import {
  SCRIPTED_PASSWORD,
  startScriptedMailbox,
  type ScriptedMailbox,
} from '../../support/scripted-mailbox';
import { tempDir } from '../../support/temp';

/**
 * The real command (the bundle `npm run build` makes, built here into a temp dir) against local
 * paths that cannot be written, one OS error at a time. Either the pre-flight check finds the path
 * before any login — exit within 2 s, exactly one line on stderr, no connection to the server — or,
 * for a path that breaks only where a message is stored, the message stays on the server: no DELE.
 */

const ROOT = resolve(__dirname, '../../..');
let cli: string;

beforeAll(() => {
  const dir = tempDir('paths-cli-');
  chmodSync(dir, 0o755); // readable by the unprivileged uid
  cli = join(dir, 'pop3-poller.js');
  execFileSync(process.execPath, [join(ROOT, 'scripts/bundle-cli.mjs'), cli], { cwd: ROOT, stdio: 'pipe' });
}, 60_000);

interface Run {
  code: number;
  stdout: string;
  stderr: string;
  ms: number;
}

function runCli(args: string[], options: { uid?: number; gid?: number; cwd?: string } = {}): Promise<Run> {
  return new Promise((done, fail) => {
    const started = Date.now();
    const child = spawn(process.execPath, [cli, ...args], {
      cwd: options.cwd ?? tempDir('paths-cwd-'),
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', LANG: 'C.UTF-8' },
      ...(options.uid !== undefined ? { uid: options.uid, gid: options.gid ?? options.uid } : {}),
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    // A hang is the bug this suite guards against: kill the child rather than wait for jest.
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.on('error', fail);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      done({ code: code ?? (signal ? -1 : -2), stdout, stderr, ms: Date.now() - started });
    });
  });
}

/** A config file for `mailbox` (mode 600, owned by `owner` when given), with the given outputs. */
function configFor(
  mailbox: ScriptedMailbox,
  outputs: { archive: string; events: string; mode?: 'keep'; stateDir?: string },
  owner?: { uid: number; gid: number },
): string {
  const dir = tempDir('paths-config-');
  chmodSync(dir, 0o755);
  const file = join(dir, 'config.json');
  writeFileSync(
    file,
    JSON.stringify({
      accounts: [
        {
          id: 'support',
          host: '127.0.0.1',
          port: mailbox.server.port,
          tls: 'none',
          allowPlaintextAuth: true,
          authMethod: 'USER',
          username: 'alice',
          password: SCRIPTED_PASSWORD,
          ...(outputs.mode ? { mode: outputs.mode } : {}),
        },
      ],
      archive: { dir: outputs.archive },
      events: { file: outputs.events },
      ...(outputs.stateDir ? { stateDir: outputs.stateDir } : {}),
    }),
    { mode: 0o600 },
  );
  if (owner) chownSync(file, owner.uid, owner.gid);
  return file;
}

const stderrLines = (run: Run) => run.stderr.split('\n').filter((l) => l !== '');

/** What every failure must look like: no stack trace, no password. */
function expectClean(run: Run): void {
  expect(run.stderr).not.toMatch(/^\s+at /m);
  expect(run.stderr + run.stdout).not.toContain(SCRIPTED_PASSWORD);
}

describe('pop3-poller with an output path that cannot work', () => {
  it('demo --output /proc/nope: one line, exit 2, within 2 s', async () => {
    const run = await runCli(['demo', '--output', '/proc/nope']);

    expect(run.code).toBe(2);
    expect(stderrLines(run)).toEqual([
      'pop3-poller: demo output directory /proc/nope: ENOENT, the file system does not allow creating /proc/nope',
    ]);
    expect(run.stdout).toBe('');
    expect(run.ms).toBeLessThan(2000);
  });

  it.each([
    [
      'an archive under /proc (ENOENT)',
      () => ({ archive: '/proc/nope/archive' }),
      'archive directory /proc/nope/archive: ENOENT, the file system does not allow creating /proc/nope',
    ],
    [
      'an archive under a file (ENOTDIR)',
      () => {
        const dir = tempDir('paths-');
        writeFileSync(join(dir, 'file'), 'x');
        return { archive: join(dir, 'file', 'archive') };
      },
      (o: { archive: string }) =>
        `archive directory ${o.archive}: ENOTDIR, ${resolve(o.archive, '..')} is not a directory`,
    ],
    [
      'an events file that is a directory (EISDIR)',
      () => {
        const dir = tempDir('paths-');
        mkdirSync(join(dir, 'events.jsonl'));
        return { archive: join(dir, 'archive'), events: join(dir, 'events.jsonl') };
      },
      (o: { events?: string }) => `events file ${o.events}: EISDIR, is a directory`,
    ],
    [
      'keep-mode state under /proc (ENOENT)',
      () => ({
        archive: join(tempDir('paths-'), 'archive'),
        mode: 'keep' as const,
        stateDir: '/proc/nope-state',
      }),
      'keep-mode state directory /proc/nope-state: ENOENT, the file system does not allow creating /proc/nope-state',
    ],
  ])('poll with %s: one line, exit 2, within 2 s, no login', async (_name, outputsOf, expected) => {
    const messages = makeMessages(2);
    const mailbox = await startScriptedMailbox(messages);
    const outputs = outputsOf() as { archive: string; events?: string; mode?: 'keep'; stateDir?: string };
    const config = configFor(mailbox, { events: join(tempDir('paths-events-'), 'events.jsonl'), ...outputs });

    const run = await runCli(['poll', '--config', config]);

    const line = typeof expected === 'string' ? expected : expected(outputs);
    expect(run.code).toBe(2);
    expect(stderrLines(run)).toEqual([`pop3-poller: ${line}`]);
    expect(run.ms).toBeLessThan(2000);
    expect(mailbox.server.connections()).toBe(0);
    expect([...mailbox.live.values()].map((m) => m.bytes)).toEqual(messages);
    expectClean(run);
  });
  it('poll --every with an impossible archive ends at once with exit 2 rather than repeating', async () => {
    const mailbox = await startScriptedMailbox(makeMessages(1));
    const config = configFor(mailbox, {
      archive: '/proc/nope/archive',
      events: join(tempDir('paths-events-'), 'events.jsonl'),
    });

    const run = await runCli(['poll', '--config', config, '--every', '1']);

    expect(run.code).toBe(2);
    expect(stderrLines(run)).toHaveLength(1);
    expect(run.ms).toBeLessThan(2000);
    expect(mailbox.server.connections()).toBe(0);
  });
});

describeAsRoot('pop3-poller on read-only, full and forbidden file systems', () => {
  it('demo --output on a read-only file system: one line, exit 2, within 2 s', async () => {
    const ro = mountTmpfs({ readOnly: true });

    const run = await runCli(['demo', '--output', join(ro, 'out')]);

    expect(run.code).toBe(2);
    expect(stderrLines(run)).toEqual([
      `pop3-poller: demo output directory ${join(ro, 'out')}: EROFS, read-only file system`,
    ]);
    expect(run.ms).toBeLessThan(2000);
  });

  it.each([
    ['EROFS', 2, () => ({ archive: join(mountTmpfs({ readOnly: true }), 'archive') }), 'archive'],
    ['EROFS', 2, () => ({ events: join(readOnlyDir(), 'events.jsonl') }), 'events'],
    ['ENOSPC', 75, () => ({ archive: fullTmpfs() }), 'archive'],
  ])(
    'pre-flight %s: exit %i with one line naming the path, within 2 s, no login',
    async (errno, code, outputsOf, which) => {
      const messages = makeMessages(2);
      const mailbox = await startScriptedMailbox(messages);
      const outputs = {
        archive: join(tempDir('paths-'), 'archive'),
        events: join(tempDir('paths-events-'), 'events.jsonl'),
        ...outputsOf(),
      };
      const config = configFor(mailbox, outputs);

      const run = await runCli(['poll', '--config', config]);

      const path = which === 'archive' ? outputs.archive : outputs.events;
      const what = which === 'archive' ? 'archive directory' : 'events file';
      expect(run.code).toBe(code);
      expect(stderrLines(run)).toEqual([
        expect.stringMatching(new RegExp(`^pop3-poller: ${what} ${path}: ${errno}, `)),
      ]);
      expect(run.ms).toBeLessThan(2000);
      expect(mailbox.server.connections()).toBe(0);
      expect([...mailbox.live.values()].map((m) => m.bytes)).toEqual(messages);
      expectClean(run);
    },
  );

  it('pre-flight EACCES (an unprivileged user, a directory owned by root): exit 2, one line, no login', async () => {
    const messages = makeMessages(2);
    const mailbox = await startScriptedMailbox(messages);
    const archive = join(rootOwnedDir('paths-root-'), 'archive');
    const events = join(ownedBy(UNPRIVILEGED), 'events.jsonl');
    const config = configFor(mailbox, { archive, events }, UNPRIVILEGED);

    const run = await runCli(['poll', '--config', config], { ...UNPRIVILEGED, cwd: '/' });

    expect(run.code).toBe(2);
    expect(stderrLines(run)).toEqual([
      `pop3-poller: archive directory ${archive}: EACCES, permission denied`,
    ]);
    expect(run.ms).toBeLessThan(2000);
    expect(mailbox.server.connections()).toBe(0);
    expectClean(run);
  });

  /**
   * Paths that pass the pre-flight check but fail where a message is stored: the account's
   * directory inside the archive (EACCES, ENOTDIR, EROFS), or a disk too small for the messages
   * (ENOSPC). The poll logs in and retrieves, stores nothing, DELEs nothing.
   */
  it.each([
    [
      'EACCES',
      1,
      (archive: string) => {
        mkdirSync(join(archive, 'support'), { mode: 0o755 }); // root's, inside the user's archive
        chownSync(archive, UNPRIVILEGED.uid, UNPRIVILEGED.gid);
      },
    ],
    ['ENOTDIR', 1, (archive: string) => writeFileSync(join(archive, 'support'), 'a file')],
    ['EROFS', 1, (archive: string) => symlinkSync(readOnlyDir(), join(archive, 'support'))],
  ])(
    'at store time %s: exit %i, the failure named in one line, every message left on the server',
    async (errno, code, prepare) => {
      const messages = makeMessages(3, { batch: errno });
      const mailbox = await startScriptedMailbox(messages);
      const archive = ownedBy({ uid: 0, gid: 0 });
      prepare(archive);
      const events = join(ownedBy(UNPRIVILEGED), 'events.jsonl');
      const asUser = errno === 'EACCES';
      const config = configFor(mailbox, { archive, events }, asUser ? UNPRIVILEGED : undefined);

      const run = await runCli(['poll', '--config', config], asUser ? { ...UNPRIVILEGED, cwd: '/' } : {});

      expect(run.code).toBe(code);
      const lines = stderrLines(run);
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(/^support\s+failed/);
      expect(lines[0]).toContain(
        `error EARCHIVE: archiving message 1 failed: archive directory ${archive}: ${errno}, `,
      );
      expect(mailbox.server.connections()).toBeGreaterThan(0);
      expect(mailbox.server.received.texts().filter((l) => l.startsWith('DELE'))).toEqual([]);
      expect([...mailbox.live.values()].map((m) => m.bytes)).toEqual(messages);
      expectClean(run);
    },
  );

  it('at store time ENOSPC (messages larger than the disk): exit 75, every message left on the server', async () => {
    const messages = makeMessages(3, { bodyBytes: 100_000, batch: 'enospc' });
    const mailbox = await startScriptedMailbox(messages);
    const archive = mountTmpfs({ size: '64k' });
    const config = configFor(mailbox, { archive, events: join(tempDir('paths-events-'), 'events.jsonl') });

    const run = await runCli(['poll', '--config', config]);

    expect(run.code).toBe(75);
    const lines = stderrLines(run);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(`archive directory ${archive}: ENOSPC, no space left on device`);
    expect(mailbox.server.received.texts().filter((l) => l.startsWith('DELE'))).toEqual([]);
    expect([...mailbox.live.values()].map((m) => m.bytes)).toEqual(messages);
    expectClean(run);
  });
});

/**
 * The events file breaks during the run, after the pre-flight check passed: the server changes
 * the disk when the first RETR arrives, before it answers. The exit status follows the OS error
 * as it does for the archive (errors.ts localPathError): a permission or a read-only mount needs a
 * person (1), a full disk does not (75).
 */
describeAsRoot('pop3-poller when the events file fails mid-run', () => {
  it.each([
    [
      'EACCES',
      1,
      'permission denied',
      () => {
        const dir = ownedBy(UNPRIVILEGED);
        const events = join(dir, 'events.jsonl');
        return {
          events,
          asUser: true,
          // Root's file now, readable by all and writable by root only.
          breakIt: () => {
            if (!existsSync(events)) writeFileSync(events, '');
            chownSync(events, 0, 0);
            chmodSync(events, 0o644);
          },
        };
      },
    ],
    [
      'EROFS',
      1,
      'read-only file system',
      () => {
        const dir = mountTmpfs();
        return { events: join(dir, 'events.jsonl'), asUser: false, breakIt: () => remountReadOnly(dir) };
      },
    ],
    [
      'ENOSPC',
      75,
      'no space left on device',
      () => {
        const dir = mountTmpfs({ size: '64k' });
        return { events: join(dir, 'events.jsonl'), asUser: false, breakIt: () => fillUp(dir) };
      },
    ],
  ])(
    "%s: exit %i, the events file named in one line, no message DELE'd without its event",
    async (errno, code, meaning, setup) => {
      const { events, asUser, breakIt } = setup();
      const messages = makeMessages(3, { batch: `events-${errno}` });
      let broken = false;
      const mailbox = await startScriptedMailbox(messages, {
        override: (line) => {
          if (!broken && line.startsWith('RETR')) {
            broken = true;
            breakIt();
          }
          return undefined;
        },
      });
      const archive = asUser ? ownedBy(UNPRIVILEGED) : join(tempDir('paths-'), 'archive');
      const config = configFor(mailbox, { archive, events }, asUser ? UNPRIVILEGED : undefined);

      const run = await runCli(['poll', '--config', config], asUser ? { ...UNPRIVILEGED, cwd: '/' } : {});

      expect(broken).toBe(true);
      expect(run.code).toBe(code);
      const lines = stderrLines(run);
      const pathLine = `pop3-poller: events file ${events}: ${errno}, ${meaning}`;
      expect(lines.filter((l) => l.startsWith('pop3-poller: '))).toEqual([pathLine]);
      expect(lines.filter((l) => !l.startsWith('pop3-poller: '))).toEqual([
        expect.stringMatching(/^support\s+(failed|partial)\b.*error EEVENTS: /),
      ]);
      // Every DELE'd message has its event in the file; the others are still on the server, intact.
      const written = existsSync(events)
        ? readFileSync(events, 'utf8')
            .split('\n')
            .filter((l) => l !== '')
            .map((l) => (JSON.parse(l) as { detail: { uidl: string } }).detail.uidl)
        : [];
      const deleted = mailbox.server.received
        .texts()
        .filter((l) => l.startsWith('DELE '))
        .map((l) => `uid-${l.slice(5).trim()}`);
      for (const uidl of deleted) expect(written).toContain(uidl);
      expect(deleted.length).toBeLessThan(messages.length);
      for (const [id, m] of mailbox.live) expect(m.bytes).toEqual(messages[id - 1]);
      expect(mailbox.live.size + deleted.length).toBe(messages.length);
      expectClean(run);
    },
  );
});

/** A temp directory (mode 755) owned by `owner`. */
function ownedBy(owner: { uid: number; gid: number }): string {
  const dir = tempDir('paths-owned-');
  chmodSync(dir, 0o755);
  chownSync(dir, owner.uid, owner.gid);
  return dir;
}
