/**
 * The clients the issue-3 benchmarks compare, each run the same way (bench/run.ts: one process
 * under GNU time, wall time from spawn to exit) and checked after every run:
 *
 * - the product: `node dist/pop3-poller.js poll --config FILE` into a directory archive and
 *   a JSON-lines events file;
 * - mpop (pipelines) into a Maildir;
 * - fetchmail (no pipelining) into a BSMTP file;
 * - the raw pipelined floor (bench/raw-floor.ts), which stores nothing: a reference, not a client.
 *
 * All three speak implicit TLS and trust only the run's CA. The mailbox must be empty after each
 * run; the product's archive must hold every seeded message byte for byte and its events file one
 * "Message Archived" line per message.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { DovecotServer } from '../test/support/dovecot';
import { filesIn, runMeasured, type RunResult } from './run';

// The repository root, whether this runs from bench/ (tsx) or dist/bench/ (compiled).
export const ROOT = resolve(__dirname, __dirname.endsWith(join('dist', 'bench')) ? '../..' : '..');
export const CLI = join(ROOT, 'dist', 'pop3-poller.js');
/** bench/raw-floor.ts as `npm run build` compiles it. */
export const RAW_FLOOR = join(ROOT, 'dist', 'bench', 'raw-floor.js');

/** The account id the product archives under (`<archive>/<id>/<sha256>.eml`). */
const ACCOUNT_ID = 'bench';

/**
 * Every client runs with the same environment minus NODE_EXTRA_CA_CERTS: some machines (this
 * sandbox among them) set it globally, and Node then parses that whole bundle at start-up although
 * each client here trusts only the run's CA. mpop and fetchmail ignore the variable.
 */
export function childEnvironment(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env.NODE_EXTRA_CA_CERTS;
  return env;
}

export function requireCli(): void {
  for (const file of [CLI, RAW_FLOOR]) {
    if (!existsSync(file)) throw new Error(`${file} is missing: run npm run build first`);
  }
}

export function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Where a client connects: Dovecot's implicit-TLS port, or a proxy in front of it. */
export interface Target {
  readonly server: DovecotServer;
  readonly port: number;
  /** The port speaks cleartext first and the client upgrades with STLS (mpop only). */
  readonly starttls?: boolean;
}

export interface CliRunOptions {
  /**
   * Node options: the script then runs as `node FLAGS BIN` (e.g. `--cpu-prof`). Without them the
   * bin is executed directly, as a user runs it, so whatever its first line asks of Node applies.
   */
  readonly nodeFlags?: readonly string[];
  /** The CLI to run. @default dist/pop3-poller.js */
  readonly bin?: string;
}

/**
 * Runs the product's CLI once into `dir` (a fresh directory) and verifies the result: the mailbox
 * is empty, `<dir>/archive/bench/` holds exactly the seeded messages (file name = SHA-256 of the
 * content, content = a seeded message), and `<dir>/events.jsonl` has one "Message Archived" line
 * per message, for exactly those hashes.
 */
export async function runCli(
  target: Target,
  dir: string,
  expected: ReadonlySet<string>,
  options: CliRunOptions = {},
): Promise<RunResult> {
  const { server, port } = target;
  const user = server.users[0]!;
  mkdirSync(dir, { recursive: true });
  const config = join(dir, 'config.json');
  writeFileSync(
    config,
    JSON.stringify({
      accounts: [
        {
          id: ACCOUNT_ID,
          host: server.host,
          port,
          tls: 'implicit',
          username: user.name,
          passwordEnv: 'BENCH_POP3_PASSWORD',
          caFile: server.certs.caFile,
          mode: 'delete',
        },
      ],
      archive: { dir: join(dir, 'archive') },
      events: { file: join(dir, 'events.jsonl') },
    }),
    { mode: 0o600 },
  );
  const bin = options.bin ?? CLI;
  const nodeFlags = options.nodeFlags ?? [];
  const [command, ...argv] = [
    ...(nodeFlags.length > 0 ? [process.execPath, ...nodeFlags] : []),
    bin,
    'poll',
    '--config',
    config,
  ];
  const result = await runMeasured(command!, argv, {
    ...childEnvironment(),
    BENCH_POP3_PASSWORD: user.password,
  });
  verifyCli(server, dir, expected);
  return result;
}

function verifyCli(server: DovecotServer, dir: string, expected: ReadonlySet<string>): void {
  const left = server.mailboxCount();
  if (left !== 0) throw new Error(`cli: ${left} messages left in the mailbox`);
  const archive = join(dir, 'archive', ACCOUNT_ID);
  const names = existsSync(archive) ? readdirSync(archive) : [];
  const found = new Set<string>();
  for (const name of names) {
    // The archive log (one line per message: what replay rebuilds events from) is checked below.
    if (name === 'archive-log.jsonl') continue;
    if (!name.endsWith('.eml')) throw new Error(`cli: unexpected file ${name} in the archive`);
    const digest = sha256(readFileSync(join(archive, name)));
    if (name !== `${digest}.eml`) throw new Error(`cli: ${name} does not hash to its name`);
    if (!expected.has(digest)) throw new Error(`cli: ${name} does not match any seeded message`);
    found.add(digest);
  }
  if (found.size !== expected.size) {
    throw new Error(`cli: ${found.size} messages archived, ${expected.size} expected`);
  }
  // Older builds (compared in bench/cli-ab.ts) write no log; a build that does logs each message.
  const log = join(archive, 'archive-log.jsonl');
  if (existsSync(log)) {
    const logged = new Set(
      readFileSync(log, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((line) => (JSON.parse(line) as { sha256: string }).sha256),
    );
    if ([...expected].some((h) => !logged.has(h))) throw new Error('cli: archive log misses messages');
  }
  const announced = new Set<string>();
  let archivedLines = 0;
  for (const line of readFileSync(join(dir, 'events.jsonl'), 'utf8').split('\n')) {
    if (!line) continue;
    const event = JSON.parse(line) as { detailType: string; detail: { sha256?: string } };
    if (event.detailType !== 'Message Archived') continue;
    archivedLines += 1;
    announced.add(event.detail.sha256!);
  }
  if (archivedLines !== expected.size || [...expected].some((h) => !announced.has(h))) {
    throw new Error(
      `cli: ${archivedLines} "Message Archived" lines for ${announced.size} hashes, ${expected.size} expected`,
    );
  }
}

/**
 * Runs the raw pipelined floor (bench/raw-floor.ts) once and verifies that the mailbox is empty
 * and that at least the messages' bytes came back (it stores nothing, so there is nothing else to
 * check).
 */
export async function runRawFloor(target: Target, count: number, size: number): Promise<RunResult> {
  const { server, port } = target;
  const user = server.users[0]!;
  const result = await runMeasured(
    process.execPath,
    [
      RAW_FLOOR,
      '--host',
      server.host,
      '--port',
      String(port),
      '--ca',
      server.certs.caFile,
      '--user',
      user.name,
      '--count',
      String(count),
    ],
    { ...childEnvironment(), BENCH_POP3_PASSWORD: user.password },
  );
  const left = server.mailboxCount();
  if (left !== 0) throw new Error(`raw floor: ${left} messages left in the mailbox`);
  const { bytes } = JSON.parse(result.stdout) as { bytes: number };
  if (bytes < count * size)
    throw new Error(`raw floor: ${bytes} bytes received, ${count * size} sent at least`);
  return result;
}

/**
 * Runs mpop once into `<dir>/Maildir` and verifies that the mailbox is empty and `count` files
 * arrived (mpop writes Maildir files, which it names itself).
 */
export async function runMpop(target: Target, dir: string, count: number): Promise<RunResult> {
  const { server, port } = target;
  const user = server.users[0]!;
  const maildir = join(dir, 'Maildir');
  for (const sub of ['cur', 'new', 'tmp']) mkdirSync(join(maildir, sub), { recursive: true });
  const config = join(dir, 'mpoprc');
  writeFileSync(
    config,
    [
      'defaults',
      'account bench',
      `host ${server.host}`,
      `port ${port}`,
      'tls on',
      `tls_starttls ${target.starttls ? 'on' : 'off'}`,
      `tls_trust_file ${server.certs.caFile}`,
      `user ${user.name}`,
      `password ${user.password}`,
      `delivery maildir ${maildir}`,
      // Keep the server's bytes as they are, as the CLI does (mpop would prepend a header).
      'received_header off',
      'keep off',
      'only_new off',
      `uidls_file ${join(dir, 'uidls')}`,
      '',
    ].join('\n'),
    { mode: 0o600 },
  );
  const result = await runMeasured('mpop', ['--quiet', '-C', config, 'bench'], childEnvironment());
  const left = server.mailboxCount();
  if (left !== 0) throw new Error(`mpop: ${left} messages left in the mailbox`);
  const files = filesIn(join(maildir, 'new'));
  if (files.count !== count) throw new Error(`mpop: ${files.count} files written, ${count} expected`);
  return result;
}

/**
 * Runs fetchmail once, delivering to a BSMTP file (no MDA, no SMTP listener), and verifies that the
 * mailbox is empty and the file holds `count` messages. Per ../shared/notes/test-infra.md: the rc
 * file must be mode 600, and `sslproto ''` stops it trying STLS on the implicit-TLS port (it warns
 * that '' is not a protocol and negotiates automatically). `fetchall`, `no keep`; its home (pid
 * file, idfile) is the run's directory, so runs never see each other.
 */
export async function runFetchmail(target: Target, dir: string, count: number): Promise<RunResult> {
  const { server, port } = target;
  const user = server.users[0]!;
  mkdirSync(dir, { recursive: true });
  const rc = join(dir, 'fetchmailrc');
  const bsmtp = join(dir, 'out.bsmtp');
  writeFileSync(
    rc,
    [
      'set no syslog',
      `poll ${server.host} protocol POP3 port ${port} timeout 60`,
      `  user "${user.name}" there with password "${user.password}" is "root" here`,
      // fetchmail checks the certificate's CN against the poll name and ignores IP SANs: the test
      // certificate is for localhost (and 127.0.0.1), so name it.
      `  options ssl sslcertck sslcertfile "${server.certs.caFile}" sslcommonname localhost sslproto ''`,
      `  fetchall no keep no rewrite bsmtp "${bsmtp}"`,
      '',
    ].join('\n'),
    { mode: 0o600 },
  );
  const env = { ...childEnvironment(), FETCHMAILHOME: dir, HOME: dir };
  const result = await runMeasured(
    'fetchmail',
    ['--silent', '--nodetach', '-f', rc, '--idfile', join(dir, 'idfile')],
    env,
  );
  const left = server.mailboxCount();
  if (left !== 0) throw new Error(`fetchmail: ${left} messages left in the mailbox`);
  // BSMTP: one MAIL FROM per message.
  const text = readFileSync(bsmtp, 'latin1');
  const messages = text.match(/^MAIL FROM:/gm)?.length ?? 0;
  if (messages !== count) throw new Error(`fetchmail: ${messages} messages delivered, ${count} expected`);
  return result;
}
