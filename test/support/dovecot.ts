import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'; // prettier-ignore
import { createServer, connect } from 'node:net';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeTestCertificates, type TestCertificates } from './certs';
import { removeDir, whenDone } from './temp';

/**
 * A real Dovecot POP3 server for one test file or benchmark: private config, state and mail under a
 * temp directory, a plain port (with STLS) and an implicit-TLS port on free loopback ports, users
 * from a passwd-file, mail written straight into their Maildirs.
 */

export const DOVECOT_BINARY = ['/usr/sbin/dovecot', '/usr/local/sbin/dovecot'].find((p) => existsSync(p));

/** Whether real-server tests can run here. `REQUIRE_DOVECOT=1` turns a missing Dovecot into a failure. */
export function dovecotAvailable(): boolean {
  return DOVECOT_BINARY !== undefined && process.getuid?.() === 0;
}

export interface DovecotUser {
  readonly name: string;
  readonly password: string;
}

export interface DovecotOptions {
  readonly users?: readonly DovecotUser[];
  /** Appended to the generated dovecot.conf. */
  readonly extraConfig?: string;
  /** SASL mechanisms for password users; default `plain login apop cram-md5`. */
  readonly authMechanisms?: string;
  /**
   * Adds XOAUTH2 and OAUTHBEARER, validated by an `oauth2` passdb against this token-introspection
   * endpoint (`introspection_mode = auth`: `GET` with `Authorization: Bearer <token>`, answered with
   * `{"active": true, "username": "<user>"}` for a good token). Password users keep working; the
   * passwd-file passdb is limited to the password mechanisms, so a password sent as a token never
   * logs in (../shared/notes/test-infra.md, "Dovecot with OAuth2").
   */
  readonly oauth2?: { readonly introspectionUrl: string };
}

/** The uid/gid that owns the test mailboxes (no /etc/passwd entry is needed). */
const MAIL_UID = 5000;

let sequence = 0;

/** Servers started and not yet stopped; a test file (or process) that forgets one still cleans up. */
const running = new Set<DovecotServer>();
whenDone(
  () => Promise.all([...running].map((server) => server.stop())).then(() => undefined),
  () => running.forEach((server) => server.kill()),
);

export class DovecotServer {
  readonly host = '127.0.0.1';
  private stopped = false;

  private constructor(
    readonly root: string,
    readonly plainPort: number,
    readonly tlsPort: number,
    readonly certs: TestCertificates,
    readonly users: readonly DovecotUser[],
    private readonly process: ChildProcess,
  ) {}

  static async start(options: DovecotOptions = {}): Promise<DovecotServer> {
    if (!DOVECOT_BINARY) throw new Error('Dovecot is not installed (apt-get install dovecot-pop3d)');
    const users = options.users ?? [{ name: 'alice', password: 'alice-secret' }];
    const certs = makeTestCertificates();
    const root = mkdtempSync(join(tmpdir(), 'dovecot-'));
    chmodSync(root, 0o755);
    const [plainPort, tlsPort] = await freePorts(2);

    const passwd = users
      .map((u) => `${u.name}:{PLAIN}${u.password}:${MAIL_UID}:${MAIL_UID}::${join(root, 'home', u.name)}::`)
      .join('\n');
    writeFileSync(join(root, 'users.passwd'), `${passwd}\n`, { mode: 0o644 });
    for (const u of users) {
      for (const sub of ['new', 'cur', 'tmp'])
        mkdirSync(join(root, 'home', u.name, 'Maildir', sub), { recursive: true });
    }
    chownTree(join(root, 'home'));

    const passwordMechanisms = options.authMechanisms ?? 'plain login apop cram-md5';
    let passdbs = `passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%u ${root}/users.passwd
}`;
    if (options.oauth2) {
      writeFileSync(
        join(root, 'dovecot-oauth2.conf.ext'),
        [
          `introspection_url = ${options.oauth2.introspectionUrl}`,
          'introspection_mode = auth',
          'username_attribute = username',
          'active_attribute = active',
          'active_value = true',
          '',
        ].join('\n'),
        { mode: 0o644 },
      );
      passdbs = `passdb {
  driver = oauth2
  mechanisms = xoauth2 oauthbearer
  args = ${root}/dovecot-oauth2.conf.ext
}
passdb {
  driver = passwd-file
  mechanisms = ${passwordMechanisms}
  args = scheme=PLAIN username_format=%u ${root}/users.passwd
}`;
    }

    const config = `
instance_name = pop3-test-${process.pid}-${++sequence}
base_dir = ${root}/run
state_dir = ${root}/state
log_path = ${root}/dovecot.log
protocols = pop3
listen = 127.0.0.1
ssl = yes
ssl_cert = <${certs.certFile}
ssl_key = <${certs.keyFile}
ssl_dh = </usr/share/dovecot/dh.pem
ssl_min_protocol = TLSv1.2
disable_plaintext_auth = no
auth_mechanisms = ${passwordMechanisms}${options.oauth2 ? ' xoauth2 oauthbearer' : ''}
auth_failure_delay = 0
${passdbs}
userdb {
  driver = passwd-file
  args = username_format=%u ${root}/users.passwd
}
mail_location = maildir:~/Maildir
default_login_user = dovenull
default_internal_user = dovecot
first_valid_uid = 1000
stats_writer_socket_path =
service pop3-login {
  inet_listener pop3 {
    port = ${plainPort}
  }
  inet_listener pop3s {
    port = ${tlsPort}
    ssl = yes
  }
}
${options.extraConfig ?? ''}
`;
    writeFileSync(join(root, 'dovecot.conf'), config);
    const child = spawn(DOVECOT_BINARY, ['-F', '-c', join(root, 'dovecot.conf')], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
    const server = new DovecotServer(root, plainPort!, tlsPort!, certs, users, child);
    running.add(server);
    try {
      await waitForListener(plainPort!, child, () => output);
    } catch (error) {
      await server.stop();
      throw error;
    }
    return server;
  }

  maildir(user = this.users[0]!.name): string {
    return join(this.root, 'home', user, 'Maildir');
  }

  /**
   * Writes messages into the user's Maildir/new, owned by the mail uid, and returns their paths.
   * Dovecot serves RETR with CRLF line endings, so byte-exact tests should use CRLF messages.
   */
  deliver(messages: readonly Buffer[], user = this.users[0]!.name): string[] {
    const dir = this.maildir(user);
    const host = hostname().replace(/[/:]/g, '_');
    const now = Math.floor(Date.now() / 1000);
    return messages.map((bytes, i) => {
      const unique = `${now}.M${i}P${process.pid}Q${++sequence}.${host}`;
      const size = bytes.length;
      const virtualSize = size + countBareLf(bytes);
      const tmp = join(dir, 'tmp', unique);
      writeFileSync(tmp, bytes);
      chownSync(tmp, MAIL_UID, MAIL_UID);
      const path = join(dir, 'new', `${unique},S=${size},W=${virtualSize}`);
      renameSync(tmp, path);
      return path;
    });
  }

  /** The messages currently in the mailbox (new and cur), as file contents. */
  mailboxFiles(user = this.users[0]!.name): Buffer[] {
    const dir = this.maildir(user);
    const files: string[] = [];
    for (const sub of ['new', 'cur']) {
      for (const name of readdirSync(join(dir, sub)).sort()) files.push(join(dir, sub, name));
    }
    return files.map((f) => readFileSync(f));
  }

  mailboxCount(user = this.users[0]!.name): number {
    const dir = this.maildir(user);
    return readdirSync(join(dir, 'new')).length + readdirSync(join(dir, 'cur')).length;
  }

  /** Removes every message from the user's mailbox (between tests). */
  empty(user = this.users[0]!.name): void {
    const dir = this.maildir(user);
    for (const sub of ['new', 'cur']) {
      for (const name of readdirSync(join(dir, sub))) rmSync(join(dir, sub, name));
    }
  }

  log(): string {
    try {
      return readFileSync(join(this.root, 'dovecot.log'), 'utf8');
    } catch {
      return '';
    }
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    const exited = new Promise<void>((resolve) => {
      if (this.process.exitCode !== null || this.process.signalCode !== null) resolve();
      else this.process.once('exit', () => resolve());
    });
    this.process.kill('SIGTERM');
    // SIGTERM soon after start can take seconds; SIGKILL of the master is clean (test-infra notes).
    const timer = setTimeout(() => this.process.kill('SIGKILL'), 1500);
    await exited;
    clearTimeout(timer);
    running.delete(this);
    removeDir(this.root);
  }

  /** At process exit, where nothing can be awaited: SIGKILL and remove the directory. */
  kill(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.process.kill('SIGKILL');
    running.delete(this);
    removeDir(this.root);
  }
}

function countBareLf(bytes: Buffer): number {
  let count = 0;
  for (let i = bytes.indexOf(0x0a); i !== -1; i = bytes.indexOf(0x0a, i + 1)) {
    if (i === 0 || bytes[i - 1] !== 0x0d) count += 1;
  }
  return count;
}

function chownTree(path: string): void {
  spawnSync('chown', ['-R', `${MAIL_UID}:${MAIL_UID}`, path]);
}

/** Picks free loopback ports by binding to port 0 and releasing them. */
export async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<ReturnType<typeof createServer>>((resolve, reject) => {
          const server = createServer();
          server.once('error', reject);
          server.listen(0, '127.0.0.1', () => resolve(server));
        }),
    ),
  );
  const ports = servers.map((s) => (s.address() as { port: number }).port);
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  return ports;
}

async function waitForListener(port: number, child: ChildProcess, output: () => string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`dovecot exited with ${child.exitCode}: ${output()}`);
    const ok = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1');
      socket.once('data', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`dovecot did not listen on ${port} within 10 s: ${output()}`);
}
