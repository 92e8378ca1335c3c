import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmodSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { DovecotServer } from '../../support/dovecot';
import { makeMessages } from '../../support/poll-fixtures';
import { SCRIPTED_PASSWORD, startScriptedMailbox } from '../../support/scripted-mailbox';
import { startTcpProxy } from '../../support/tcp-proxy';
import { describeWithDovecot } from '../../support/with-dovecot';

/**
 * The `pop3-poller` command end to end: a real process, a real Dovecot, a real directory archive and
 * events file. What a user sees: exit status, summary, files.
 */

const ROOT = resolve(__dirname, '../../..');
const CLI = join(ROOT, 'functions/cli/main.ts');
const TSX = join(ROOT, 'node_modules/.bin/tsx');
const PASSWORD = 'cli-secret-Pa55';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function runCli(args: string[], env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolvePromise) => {
    const child = spawn(TSX, [CLI, ...args], { env: { ...process.env, ...env }, cwd: ROOT });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => resolvePromise({ code: code ?? -1, stdout, stderr }));
  });
}

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

function crlf(lines: string[]): Buffer {
  return Buffer.from(`${lines.join('\r\n')}\r\n`, 'latin1');
}

function sampleMail(): Buffer[] {
  const eightBit = Buffer.concat([
    crlf([
      'From: =?UTF-8?B?5bGx55Sw?= <yamada@example.jp>',
      'Subject: =?UTF-8?Q?r=C3=A9sum=C3=A9?=',
      'Message-ID: <8bit@x>',
      '',
    ]),
    Buffer.from([0x80, 0x9f, 0xa0, 0xc3, 0xa9, 0xff, 0xfe, 0x0d, 0x0a]),
  ]);
  const dotted = crlf(['Subject: dots', 'Message-ID: <dots@x>', '', '.', '..', '.x', '...', 'end', '.']);
  const japanese = Buffer.concat([
    crlf([
      'Subject: =?ISO-2022-JP?B?GyRCMnE1RCROJCpDTiRpJDsbKEI=?=',
      'Message-ID: <ja@x>',
      'Content-Type: text/plain; charset=ISO-2022-JP',
      '',
    ]),
    Buffer.from('GyRCJGgkbSQ3JC8kKjRqJCQkJCQ/JDckXiQ5ISMbKEI=', 'base64'),
    Buffer.from('\r\n'),
  ]);
  const longLine = crlf(['Subject: long', 'Message-ID: <long@x>', '', 'x'.repeat(200_000)]);
  return [eightBit, dotted, japanese, longLine];
}

function archivedFiles(dir: string): Buffer[] {
  const out: Buffer[] = [];
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const path = join(d, name);
      if (statSync(path).isDirectory()) walk(path);
      else if (name.endsWith('.eml')) out.push(readFileSync(path));
    }
  };
  walk(dir);
  return out.sort(Buffer.compare);
}

function eventLines(
  file: string,
): Array<{ id: string; source: string; detailType: string; time: string; detail: Record<string, unknown> }> {
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line));
}

describeWithDovecot('pop3-poller poll (against Dovecot)', () => {
  let server: DovecotServer;
  let work: string;

  beforeAll(async () => {
    server = await DovecotServer.start({
      users: [
        { name: 'alice', password: PASSWORD },
        { name: 'bob', password: 'bob-secret' },
      ],
    });
  });
  afterAll(() => server?.stop());
  beforeEach(() => {
    work = mkdtempSync(join(tmpdir(), 'cli-test-'));
    server.empty('alice');
    server.empty('bob');
  });
  afterEach(() => rmSync(work, { recursive: true, force: true }));

  function writeConfig(accounts: object[], extra: object = {}): string {
    const file = join(work, 'poller.json');
    writeFileSync(
      file,
      JSON.stringify(
        { accounts, archive: { dir: './archive' }, events: { file: './events.jsonl' }, ...extra },
        null,
        2,
      ),
    );
    return file;
  }

  const alice = (overrides: object = {}) => ({
    id: 'support',
    host: '127.0.0.1',
    port: server.tlsPort,
    tls: 'implicit',
    username: 'alice',
    passwordEnv: 'POP3_TEST_PASSWORD',
    caFile: server.certs.caFile,
    ...overrides,
  });

  it('archives every message byte for byte, writes one event per message, and empties the mailbox', async () => {
    const mail = sampleMail();
    server.deliver(mail, 'alice');
    const config = writeConfig([alice()]);

    const run = await runCli(['poll', '--config', config], { POP3_TEST_PASSWORD: PASSWORD });

    expect(run.stderr).toMatch(/support\s+ok\s+fetched 4\s+archived 4\s+deleted 4/);
    expect(run.code).toBe(0);
    expect(archivedFiles(join(work, 'archive'))).toEqual(mail.slice().sort(Buffer.compare));
    expect(server.mailboxCount('alice')).toBe(0);

    const events = eventLines(join(work, 'events.jsonl'));
    const archived = events.filter((e) => e.detailType === 'Message Archived');
    expect(archived).toHaveLength(4);
    for (const e of archived) {
      expect(Object.keys(e).sort()).toEqual(['detail', 'detailType', 'id', 'source', 'time']);
      expect(e.detail).toEqual(
        expect.objectContaining({ accountId: 'support', uidl: expect.any(String), size: expect.any(Number) }),
      );
      const file = readFileSync(new URL(e.detail.location as string));
      expect(sha(file)).toBe(e.detail.sha256);
      expect(file.length).toBe(e.detail.size);
    }
    const bySubject = Object.fromEntries(archived.map((e) => [e.detail.subject, e.detail]));
    expect(bySubject['résumé']).toEqual(
      expect.objectContaining({ from: { name: '山田', address: 'yamada@example.jp' } }),
    );
    expect(bySubject['会議のお知らせ']).toEqual(expect.objectContaining({ messageId: '<ja@x>' }));
    expect(events.filter((e) => e.detailType === 'Poll Completed')).toHaveLength(1);
    expect(run.stderr + run.stdout).not.toContain(PASSWORD);
  });

  it('a second poll archives nothing, exits 0, and keeps what the first one wrote', async () => {
    server.deliver(sampleMail().slice(0, 2), 'alice');
    const config = writeConfig([alice()]);
    const first = await runCli(['poll', '--config', config], { POP3_TEST_PASSWORD: PASSWORD });
    expect(first.code).toBe(0);
    const eventsAfterFirst = readFileSync(join(work, 'events.jsonl'));

    const second = await runCli(['poll', '--config', config, '--json'], { POP3_TEST_PASSWORD: PASSWORD });

    expect(second.code).toBe(0);
    const summary = JSON.parse(second.stdout) as { accounts: Array<Record<string, unknown>> };
    expect(summary.accounts[0]).toEqual(
      expect.objectContaining({ accountId: 'support', status: 'ok', fetched: 0, archived: 0 }),
    );
    const eventsAfterSecond = readFileSync(join(work, 'events.jsonl'));
    expect(eventsAfterSecond.subarray(0, eventsAfterFirst.length).equals(eventsAfterFirst)).toBe(true);
    expect(archivedFiles(join(work, 'archive'))).toHaveLength(2);
  });

  it('keep mode leaves mail on the server and archives only what it has not archived before', async () => {
    const mail = sampleMail();
    server.deliver(mail.slice(0, 3), 'alice');
    const config = writeConfig([alice({ mode: 'keep', tls: 'starttls', port: server.plainPort })]);

    const first = await runCli(['poll', '--config', config, '--json'], { POP3_TEST_PASSWORD: PASSWORD });
    expect(first.code).toBe(0);
    expect(JSON.parse(first.stdout).accounts[0]).toEqual(
      expect.objectContaining({ archived: 3, deleted: 0 }),
    );
    expect(server.mailboxCount('alice')).toBe(3);

    const second = await runCli(['poll', '--config', config, '--json'], { POP3_TEST_PASSWORD: PASSWORD });
    expect(JSON.parse(second.stdout).accounts[0]).toEqual(
      expect.objectContaining({ fetched: 0, archived: 0 }),
    );

    server.deliver(mail.slice(3), 'alice');
    // check counts what the next poll would fetch: the one message not archived before.
    const check = await runCli(['check', '--config', config], { POP3_TEST_PASSWORD: PASSWORD });
    expect(check.code).toBe(0);
    expect(check.stderr).toMatch(/support\s+ok\s+.*\s4 messages, [0-9.]+ KB \(1 new\)\s+mode keep/);
    const third = await runCli(['poll', '--config', config, '--json'], { POP3_TEST_PASSWORD: PASSWORD });
    expect(JSON.parse(third.stdout).accounts[0]).toEqual(
      expect.objectContaining({ fetched: 1, archived: 1 }),
    );
    expect(server.mailboxCount('alice')).toBe(4);
    expect(archivedFiles(join(work, 'archive'))).toEqual(mail.slice().sort(Buffer.compare));
    expect(
      eventLines(join(work, 'events.jsonl')).filter((e) => e.detailType === 'Message Archived'),
    ).toHaveLength(4);
  });

  it('one account failing does not stop another; the exit status says a human must act', async () => {
    server.deliver(sampleMail().slice(0, 1), 'bob');
    const config = writeConfig([
      alice({ id: 'wrong', password: 'not-the-password', passwordEnv: undefined }),
      {
        id: 'bob',
        host: '127.0.0.1',
        port: server.tlsPort,
        username: 'bob',
        password: 'bob-secret',
        caFile: server.certs.caFile,
      },
    ]);

    chmodSync(config, 0o644);
    const run = await runCli(['poll', '--config', config]);

    expect(run.code).toBe(1);
    expect(run.stderr).toContain(`warning: ${config} holds secrets and anyone on this machine can read it`);
    expect(run.stderr).toMatch(/wrong\s+failed.*EAUTH/);
    expect(run.stderr).toMatch(/bob\s+ok\s+fetched 1/);
    expect(run.stderr).not.toContain('not-the-password');
    expect(readFileSync(join(work, 'events.jsonl'), 'utf8')).not.toContain('not-the-password');
    expect(server.mailboxCount('bob')).toBe(0);
  });

  it('an untrusted certificate fails the account cleanly and sends no password', async () => {
    server.deliver(sampleMail().slice(0, 1), 'alice');
    const config = writeConfig([alice({ caFile: undefined })]);
    const run = await runCli(['poll', '--config', config], { POP3_TEST_PASSWORD: PASSWORD });
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/support\s+failed.*ETLS/);
    expect(server.mailboxCount('alice')).toBe(1);
  });

  it('rejects a bad config with the path of the bad key, without echoing values', async () => {
    const config = writeConfig([
      alice({ port: 99999, password: 'hunter2-secret', passwordEnv: undefined, tls: 'ssl' }),
    ]);
    const run = await runCli(['poll', '--config', config]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('accounts[0].port: expected an integer from 1 to 65535');
    expect(run.stderr).toContain('accounts[0].tls');
    expect(run.stderr).not.toContain('hunter2-secret');
  });

  it('names the missing environment variable, not a value', async () => {
    server.deliver(sampleMail().slice(0, 1), 'alice');
    const config = writeConfig([alice()]);
    const run = await runCli(['poll', '--config', config], { POP3_TEST_PASSWORD: '' });
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('POP3_TEST_PASSWORD');
    expect(server.mailboxCount('alice')).toBe(1);
  });

  /**
   * Starts `poll --json` on 600 messages behind a slow link (40 ms each way, so that the run lasts
   * long enough to be interrupted) and resolves once the first message is archived and announced.
   */
  async function pollBehindSlowLink() {
    const proxy = await startTcpProxy({ targetPort: server.tlsPort, oneWayDelayMs: 40 });
    const mail = makeMessages(600, { bodyBytes: 2000, batch: 'signals' });
    server.deliver(mail, 'alice');
    const config = writeConfig([alice({ port: proxy.port })]);
    const events = join(work, 'events.jsonl');
    // Node itself with tsx's hooks, not the tsx command: that one relays signals to its child and
    // kills it if the child does not acknowledge within 30 ms, which a loaded machine misses.
    const child = spawn(process.execPath, ['--import', 'tsx', CLI, 'poll', '--config', config, '--json'], {
      env: { ...process.env, POP3_TEST_PASSWORD: PASSWORD },
      cwd: ROOT,
    });
    const output = { stdout: '', stderr: '' };
    child.stdout.on('data', (d: Buffer) => (output.stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output.stderr += d.toString()));
    const exited = new Promise<number | null>((done) => child.on('close', (code) => done(code)));
    while (!(existsSync(events) && statSync(events).size > 0)) await new Promise((r) => setTimeout(r, 5));
    return { proxy, mail, child, exited, output };
  }

  /**
   * Every message is archived (byte for byte), still on the server, or both (archived, but its DELE
   * never committed), and nothing else is in either place. Returns how many are archived.
   */
  function expectNothingLost(mail: Buffer[]): number {
    const key = (b: Buffer) => b.toString('base64');
    const inArchive = archivedFiles(join(work, 'archive'));
    const onServer = server.mailboxFiles('alice');
    const delivered = new Set(mail.map(key));
    const found = new Set([...inArchive, ...onServer].map(key));
    expect([...found].filter((m) => !delivered.has(m))).toEqual([]);
    expect([...delivered].filter((m) => !found.has(m))).toEqual([]);
    return inArchive.length;
  }

  it('SIGTERM stops gracefully: what is in flight is archived and deleted, the rest stays', async () => {
    const { proxy, mail, child, exited, output } = await pollBehindSlowLink();
    try {
      child.kill('SIGTERM');
      const code = await exited;

      expect(output.stderr).toContain('SIGTERM: finishing the messages in flight, then stopping');
      expect(code).toBe(0);
      const [result] = (JSON.parse(output.stdout) as { accounts: Array<Record<string, number | string>> })
        .accounts;
      expect(result).toEqual(expect.objectContaining({ status: 'ok', stoppedBy: 'stopped' }));
      const archived = result!.archived as number;
      expect(archived).toBeGreaterThan(0);
      expect(result!.deleted).toBe(archived);
      expect(result!.remaining).toBe(mail.length - archived);
      expect(result!.remaining).toBeGreaterThan(0);
      expect(output.stderr).toMatch(new RegExp(`remaining ${mail.length - archived} \\(stopped\\)`));
      // What was archived was deleted: the two sets do not overlap.
      expect(expectNothingLost(mail)).toBe(archived);
      expect(server.mailboxCount('alice')).toBe(mail.length - archived);
    } finally {
      await proxy.close();
    }
  });

  it('a second SIGINT exits at once (130), and still nothing is lost', async () => {
    const { proxy, mail, child, exited, output } = await pollBehindSlowLink();
    try {
      child.kill('SIGINT');
      while (!output.stderr.includes('SIGINT: finishing')) await new Promise((r) => setTimeout(r, 5));
      child.kill('SIGINT');
      const code = await exited;

      expect(code).toBe(130);
      expect(output.stderr).toContain('SIGINT again: exiting now; unfinished messages stay on the server');
      // No QUIT: the server deleted nothing, whatever DELEs it had been sent.
      expect(server.mailboxCount('alice')).toBe(mail.length);
      expect(expectNothingLost(mail)).toBeGreaterThan(0);
    } finally {
      await proxy.close();
    }
  });

  it('--every polls again and again until SIGTERM, one JSON line per pass', async () => {
    const mail = sampleMail();
    server.deliver(mail.slice(0, 2), 'alice');
    const config = writeConfig([alice()]);
    const events = join(work, 'events.jsonl');
    const archivedLines = () =>
      existsSync(events) ? eventLines(events).filter((e) => e.detailType === 'Message Archived').length : 0;
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', CLI, 'poll', '--config', config, '--json', '--every', '1'],
      {
        env: { ...process.env, POP3_TEST_PASSWORD: PASSWORD },
        cwd: ROOT,
      },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((done) => child.on('close', (code) => done(code)));
    const until = async (condition: () => boolean) => {
      const deadline = Date.now() + 15_000;
      while (!condition() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      expect(condition()).toBe(true);
    };

    await until(() => archivedLines() === 2 && stdout.includes('\n'));
    // Mail that arrives between passes is taken by the next one.
    server.deliver(mail.slice(2), 'alice');
    await until(() => archivedLines() === 4);
    await until(() => stdout.trim().split('\n').length >= 2);
    child.kill('SIGTERM');
    const code = await exited;

    expect(code).toBe(0);
    const passes = stdout
      .trim()
      .split('\n')
      .map(
        (line) =>
          JSON.parse(line) as { time: string; accounts: Array<{ accountId: string; archived: number }> },
      );
    expect(passes.length).toBeGreaterThanOrEqual(2);
    expect(passes.reduce((sum, p) => sum + p.accounts[0]!.archived, 0)).toBe(4);
    expect(passes.every((p) => !Number.isNaN(Date.parse(p.time)))).toBe(true);
    // Passes start a second apart (not back to back).
    expect(Date.parse(passes[1]!.time) - Date.parse(passes[0]!.time)).toBeGreaterThanOrEqual(900);
    expect(stderr).toMatch(/support\s+ok\s+fetched 2\s+archived 2/);
    expect(server.mailboxCount('alice')).toBe(0);
    expect(archivedFiles(join(work, 'archive'))).toEqual(mail.slice().sort(Buffer.compare));
  });

  it('--every warns once when a server asks for more time between logins than that', async () => {
    const mailbox = await startScriptedMailbox([], { capabilitiesAfterLogin: ['LOGIN-DELAY 300'] });
    try {
      const config = writeConfig([
        {
          id: 'slow',
          host: '127.0.0.1',
          port: mailbox.server.port,
          tls: 'none',
          allowPlaintextAuth: true,
          username: 'alice',
          passwordEnv: 'POP3_TEST_PASSWORD',
        },
      ]);
      const child = spawn(
        process.execPath,
        ['--import', 'tsx', CLI, 'poll', '--config', config, '--every', '1'],
        {
          env: { ...process.env, POP3_TEST_PASSWORD: SCRIPTED_PASSWORD },
          cwd: ROOT,
        },
      );
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      const exited = new Promise<number | null>((done) => child.on('close', (code) => done(code)));
      const deadline = Date.now() + 15_000;
      while ((stderr.match(/slow\s+ok/g) ?? []).length < 2 && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 20));
      }
      child.kill('SIGTERM');
      expect(await exited).toBe(0);

      const warning =
        'warning: slow: the server asks for 300 s between logins (LOGIN-DELAY), more than --every 1';
      expect(stderr.split(warning)).toHaveLength(2); // once, not per pass
      expect((stderr.match(/slow\s+ok/g) ?? []).length).toBeGreaterThanOrEqual(2);
    } finally {
      await mailbox.close();
    }
  });

  it('--every takes whole seconds only', async () => {
    const config = writeConfig([alice()]);
    for (const every of ['0', '1.5', 'ten']) {
      const run = await runCli(['poll', '--config', config, '--every', every]);
      expect(run.code).toBe(2);
      expect(run.stderr).toContain(
        `--every expects a whole number of seconds from 1 to 9999999, not "${every}"`,
      );
    }
  });

  it('check logs in, reports what is waiting, and leaves mailbox, archive and events untouched', async () => {
    const mail = sampleMail();
    server.deliver(mail, 'alice');
    // Dovecot may move messages from new/ to cur/; their bytes must not change.
    const before = server.mailboxFiles('alice').sort(Buffer.compare);
    const config = writeConfig([alice(), alice({ id: 'stls', tls: 'starttls', port: server.plainPort })]);

    const run = await runCli(['check', '--config', config, '--json'], { POP3_TEST_PASSWORD: PASSWORD });

    expect(run.code).toBe(0);
    const octets = mail.reduce((sum, m) => sum + m.length, 0);
    expect(run.stderr).toMatch(
      new RegExp(
        `support\\s+ok\\s+127\\.0\\.0\\.1:${server.tlsPort} \\(TLSv1\\.3\\)\\s+login PLAIN\\s+4 messages, `,
      ),
    );
    expect(run.stderr).toMatch(
      new RegExp(`stls\\s+ok\\s+127\\.0\\.0\\.1:${server.plainPort} \\(STLS, TLSv1\\.3\\)`),
    );
    const report = JSON.parse(run.stdout) as { accounts: Array<Record<string, unknown>> };
    expect(report.accounts.map((a) => [a.accountId, a.status, a.messages, a.octets, a.mode])).toEqual([
      ['support', 'ok', 4, octets, 'delete'],
      ['stls', 'ok', 4, octets, 'delete'],
    ]);
    expect(server.mailboxFiles('alice').sort(Buffer.compare)).toEqual(before);
    expect(readdirSync(work).sort()).toEqual(['poller.json']);
    expect(run.stderr + run.stdout).not.toContain(PASSWORD);
  });

  it('check exits 1 on a rejected password and names the account, never the password', async () => {
    const config = writeConfig([
      alice({ id: 'wrong', password: 'not-the-password', passwordEnv: undefined }),
      alice({ id: 'right' }),
    ]);

    const run = await runCli(['check', '--config', config], { POP3_TEST_PASSWORD: PASSWORD });

    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/wrong\s+failed\s+127\.0\.0\.1:\d+ \(implicit TLS\)\s+error EAUTH: /);
    expect(run.stderr).toMatch(/right\s+ok\s+/);
    expect(run.stderr + run.stdout).not.toContain('not-the-password');
  });

  it('check and poll refuse an unknown --account with exit 2', async () => {
    const config = writeConfig([alice()]);
    for (const command of ['check', 'poll']) {
      const run = await runCli([command, '--config', config, '--account', 'nobody']);
      expect(run.code).toBe(2);
      expect(run.stderr).toContain('unknown account(s): nobody');
    }
  });
});

describe('pop3-poller --version', () => {
  it("prints the package's version", async () => {
    const { version } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
    const run = await runCli(['--version']);
    expect(run.code).toBe(0);
    expect(run.stdout).toBe(`pop3-poller ${version}\n`);
  });
});

describe('pop3-poller demo', () => {
  it('polls its own local server over STLS into the output directory', async () => {
    const out = mkdtempSync(join(tmpdir(), 'demo-test-'));
    try {
      const run = await runCli(['demo', '--output', out]);
      expect(run.code).toBe(0);
      expect(run.stdout).toMatch(/demo\s+ok\s+fetched 4\s+archived 4\s+deleted 4/);
      expect(run.stdout).toContain('会議のお知らせ');
      expect(run.stdout).toContain('invoice-2026-11.pdf (application/pdf');
      expect(archivedFiles(join(out, 'archive'))).toHaveLength(4);
      const events = eventLines(join(out, 'events.jsonl'));
      expect(events.filter((e) => e.detailType === 'Message Archived').map((e) => e.detail.subject)).toEqual(
        expect.arrayContaining([
          '会議のお知らせ',
          'Invoice 2026-11 attached',
          'Café order ☕',
          'Nightly backup completed',
        ]),
      );
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });
});
