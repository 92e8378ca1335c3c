import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { inspect } from 'node:util';
import { Pop3Client } from '../../../functions/pop3/client';
import type { Pop3ClientOptions, TraceEvent } from '../../../functions/pop3/options';
import { Pop3Error } from '../../../functions/pop3/errors';
import type { AuthMethod } from '../../../functions/pop3/sasl';
import { DovecotServer } from '../../support/dovecot';
import { describeWithDovecot } from '../../support/with-dovecot';

/*
 * The POP3 client against a real Dovecot 2.3 (see docs in test/support/dovecot.ts and the
 * test-infra notes). What this file established about Dovecot, beyond the notes:
 * - RETR is byte-exact for every octet value, NUL included (2.3.19 does not replace NULs in POP3)
 *   and a bare CR; only a bare LF in the stored file is served as CRLF.
 * - After login CAPA no longer lists USER, SASL or STLS; after STLS it no longer lists STLS.
 * - `pop3_lock_session = yes`: a second login waits ~10 s for the lock, then gets
 *   `-ERR [IN-USE] Mailbox is locked by another POP3 session.` in reply to the login command
 *   (`mail_max_lock_timeout` does not shorten the wait).
 * - An unreadable Maildir: without session locking Dovecot answers `+OK Logged in.` and then, in
 *   the same breath and without being asked, `-ERR [SYS/TEMP] Internal error occurred...` and
 *   closes; with session locking the login itself gets `-ERR [SYS/TEMP] Failed to create POP3
 *   session lock.`
 * - A failed login is answered after ~0.5 s; the next failure from the same source address waits
 *   ~4.5 s, so each failing test connects from its own loopback address.
 */

const USER = 'alice';
const PASSWORD = 'Al1ce-S3cret-pa55';
const BROKEN_USER = 'bob'; // Maildir made unreadable in the SYS/TEMP tests
const BROKEN_PASSWORD = 'B0b-S3cret-pa55';
const WRONG_PASSWORD = 'Wr0ng-Pa55word-7f3c9';
const MB = 1024 * 1024;
const CRLF = '\r\n';

/** A fresh loopback source address per connection whose server log lines we want to find. */
let lastOctet = 1;
const nextLoopback = () => `127.0.0.${++lastOctet}`;

const ascii = (text: string) => Buffer.from(text, 'latin1');
const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');
const b64 = (text: string) => Buffer.from(text, 'utf8').toString('base64');

function recorder() {
  const events: TraceEvent[] = [];
  return {
    events,
    onTrace: (event: TraceEvent) => events.push(event),
    lines: (direction?: TraceEvent['direction']) =>
      events.filter((e) => !direction || e.direction === direction).map((e) => e.line),
  };
}

/** Resolves with the Pop3Error the promise rejects with; fails the test if it resolves. */
async function failure(promise: Promise<unknown>): Promise<Pop3Error> {
  const error = await promise.then(
    () => {
      throw new Error('expected the operation to fail with a Pop3Error');
    },
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(Pop3Error);
  return error as Pop3Error;
}

const busyWait = (ms: number) => {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    // Blocks the event loop on purpose: the server's replies pile up in the socket buffer.
  }
};

describeWithDovecot('Class: Pop3Client (against Dovecot)', () => {
  let server: DovecotServer;
  const clients: Pop3Client[] = [];

  beforeAll(async () => {
    server = await DovecotServer.start({
      users: [
        { name: USER, password: PASSWORD },
        { name: BROKEN_USER, password: BROKEN_PASSWORD },
      ],
    });
  });

  afterAll(async () => {
    await server?.stop();
  });

  afterEach(() => {
    for (const client of clients.splice(0)) client.destroy();
  });

  function options(overrides: Partial<Pop3ClientOptions> = {}): Pop3ClientOptions {
    return {
      host: server.host,
      port: server.tlsPort,
      tls: 'implicit',
      tlsOptions: { ca: server.certs.caPem },
      auth: { username: USER, password: PASSWORD },
      timeouts: { connectMs: 5_000, greetingMs: 5_000, idleMs: 10_000 },
      ...overrides,
    };
  }

  async function connect(opts: Pop3ClientOptions): Promise<Pop3Client> {
    const client = await Pop3Client.connect(opts);
    clients.push(client);
    return client;
  }

  /** Dovecot's log lines for connections from `address`, once `done` says they are complete. */
  async function logFor(address: string, done: (lines: string[]) => boolean): Promise<string[]> {
    const deadline = Date.now() + 3_000;
    for (;;) {
      const lines = server
        .log()
        .split('\n')
        .filter((l) => l.includes(`rip=${address},`));
      if (done(lines) || Date.now() > deadline) return lines;
      await sleep(20);
    }
  }

  /** The mail process's last log line for the session from `address` (its `Disconnected` line). */
  async function sessionEnd(address: string): Promise<string> {
    const [login] = await logFor(address, (l) => l.some((x) => x.includes('Login:')));
    const mpid = /mpid=(\d+)/.exec(login ?? '')?.[1];
    expect(mpid).toBeDefined();
    const deadline = Date.now() + 3_000;
    for (;;) {
      const end = server
        .log()
        .split('\n')
        .find((l) => l.includes(`(${USER})<${mpid}>`) && l.includes('Disconnected'));
      if (end || Date.now() > deadline) return end ?? '';
      await sleep(20);
    }
  }

  // -------------------------------------------------------------------------------------------
  describe('Logging in', () => {
    const methods: ReadonlyArray<[AuthMethod | 'auto', string, string]> = [
      // method, the login line as traced, what Dovecot logs as `method=`
      ['USER', 'USER alice', 'PLAIN'],
      ['APOP', 'APOP [redacted]', 'APOP'],
      ['PLAIN', 'AUTH PLAIN [redacted]', 'PLAIN'],
      ['LOGIN', 'AUTH LOGIN [redacted]', 'LOGIN'],
      ['CRAM-MD5', 'AUTH CRAM-MD5 [redacted]', 'CRAM-MD5'],
      ['auto', 'AUTH PLAIN [redacted]', 'PLAIN'], // over TLS `auto` picks PLAIN
    ];
    const cases = (['implicit', 'starttls'] as const).flatMap((tls) =>
      methods.map(([method, line, logged]) => ({ tls, method, line, logged })),
    );

    it.each(cases)(
      'logs in with $method over $tls TLS, verified by the run CA, and re-reads CAPA',
      async ({ tls, method, line, logged }) => {
        const trace = recorder();
        const address = nextLoopback();
        const client = await connect(
          options({
            tls,
            port: tls === 'implicit' ? server.tlsPort : server.plainPort,
            auth: { username: USER, password: PASSWORD, method },
            localAddress: address,
            onTrace: trace.onTrace,
          }),
        );

        expect(client.state).toBe('transaction');
        expect(client.isEncrypted).toBe(true);
        expect(client.pipelining).toBe(true);
        const clientLines = trace.lines('client');
        const expectedSequence =
          tls === 'implicit' ? ['CAPA', line, 'CAPA'] : ['CAPA', 'STLS', 'CAPA', line, 'CAPA'];
        // The login line, plus the SASL response lines a mechanism sends after it.
        expect(
          clientLines.filter((l) => l !== '[redacted SASL response]' && l !== 'PASS [redacted]'),
        ).toEqual(expectedSequence);
        if (method === 'USER') expect(clientLines).toContain('PASS [redacted]');
        if (method === 'LOGIN') expect(clientLines.filter((l) => l.startsWith('[redacted')).length).toBe(2);
        if (method === 'CRAM-MD5')
          expect(clientLines.filter((l) => l.startsWith('[redacted')).length).toBe(1);
        if (tls === 'starttls') expect(trace.lines('server')).toContain('+OK Begin TLS negotiation now.');

        // CAPA was re-read after login: Dovecot lists USER, SASL and STLS only before it.
        expect(client.capabilities.has('PIPELINING')).toBe(true);
        expect(client.capabilities.has('STLS')).toBe(false);
        expect(client.capabilities.has('SASL')).toBe(false);
        expect(client.capabilities.has('USER')).toBe(false);

        // The session works, and Dovecot saw the method over TLS.
        await expect(client.stat()).resolves.toEqual({ count: expect.any(Number), size: expect.any(Number) });
        await client.quit();
        expect(client.state).toBe('closed');
        const log = await logFor(address, (l) => l.some((x) => x.includes('Login:')));
        expect(log.find((x) => x.includes('Login:'))).toMatch(
          new RegExp(`Login: user=<${USER}>, method=${logged}, rip=${address.replace(/\./g, '\\.')},.* TLS`),
        );
      },
    );

    it('discards the capabilities learnt before STLS (RFC 2595 §4)', async () => {
      const plain = await Pop3Client.open(options({ tls: 'none', port: server.plainPort }));
      clients.push(plain);
      expect(plain.capabilities.has('STLS')).toBe(true);
      expect(plain.isEncrypted).toBe(false);
      expect(plain.state).toBe('authorization');

      const upgraded = await Pop3Client.open(options({ tls: 'starttls', port: server.plainPort }));
      clients.push(upgraded);
      expect(upgraded.isEncrypted).toBe(true);
      expect(upgraded.capabilities.has('STLS')).toBe(false);
      expect(upgraded.capabilities.saslMechanisms).toEqual(['PLAIN', 'LOGIN', 'CRAM-MD5']);
      await upgraded.login();
      expect(upgraded.state).toBe('transaction');
      await upgraded.quit();
    });

    it('connects by host name "localhost" (the certificate names DNS:localhost)', async () => {
      const implicit = await connect(options({ host: 'localhost' }));
      expect(implicit.isEncrypted).toBe(true);
      await implicit.quit();
      const starttls = await connect(options({ host: 'localhost', tls: 'starttls', port: server.plainPort }));
      expect(starttls.isEncrypted).toBe(true);
      await starttls.quit();
    });
  });

  // -------------------------------------------------------------------------------------------
  describe('A wrong password', () => {
    const cases: ReadonlyArray<[AuthMethod, 'implicit' | 'starttls', string]> = [
      ['USER', 'implicit', 'PASS'],
      ['APOP', 'implicit', 'APOP'],
      ['PLAIN', 'implicit', 'AUTH'],
      ['LOGIN', 'implicit', 'AUTH'],
      ['CRAM-MD5', 'implicit', 'AUTH'],
      ['PLAIN', 'starttls', 'AUTH'],
    ];

    it.each(cases)(
      'fails %s over %s TLS with EAUTH, not retryable, and the password appears nowhere',
      async (method, tls, command) => {
        const trace = recorder();
        const address = nextLoopback(); // Dovecot delays repeated failures from one address
        const error = await failure(
          Pop3Client.connect(
            options({
              tls,
              port: tls === 'implicit' ? server.tlsPort : server.plainPort,
              auth: { username: USER, password: WRONG_PASSWORD, method },
              localAddress: address,
              onTrace: trace.onTrace,
            }),
          ),
        );

        expect(error.code).toBe('EAUTH');
        expect(error.retryable).toBe(false);
        expect(error.command).toBe(command);
        expect(error.response).toBe('-ERR [AUTH] Authentication failed.');
        const plainBlob = b64(`\0${USER}\0${WRONG_PASSWORD}`);
        const everything = [
          error.message,
          error.response,
          inspect(error, { depth: 5 }),
          JSON.stringify(error),
          ...trace.lines(),
        ].join('\n');
        for (const secret of [WRONG_PASSWORD, b64(WRONG_PASSWORD), plainBlob]) {
          expect(everything).not.toContain(secret);
        }
        // The server did see exactly one failed attempt from this address.
        const log = await logFor(address, (l) => l.some((x) => x.includes('auth failed')));
        expect(log.join('\n')).toMatch(/auth failed, 1 attempts/);
      },
    );
  });

  // -------------------------------------------------------------------------------------------
  describe('Certificate verification', () => {
    const noCredentialsSent = (lines: string[]) => {
      for (const line of lines) expect(line).not.toMatch(/^(USER|PASS|APOP|AUTH)\b|redacted/);
    };

    it.each([
      ['an unrelated CA', () => ({ ca: server.certs.otherCaPem })],
      ['no CA (system store)', () => ({})],
    ])(
      'refuses implicit TLS verified against %s with ETLS, before any POP3 line',
      async (_what, tlsOptions) => {
        const trace = recorder();
        const address = nextLoopback();
        const error = await failure(
          Pop3Client.connect(
            options({ tlsOptions: tlsOptions(), localAddress: address, onTrace: trace.onTrace }),
          ),
        );
        expect(error.code).toBe('ETLS');
        expect(error.retryable).toBe(false);
        expect(trace.events).toEqual([]);
        const log = await logFor(address, (l) => l.length > 0);
        expect(log.join('\n')).toMatch(/no auth attempts/);
      },
    );

    it('refuses STLS with an untrusted certificate with ETLS, sending no credentials', async () => {
      const trace = recorder();
      const address = nextLoopback();
      const error = await failure(
        Pop3Client.connect(
          options({
            tls: 'starttls',
            port: server.plainPort,
            tlsOptions: { ca: server.certs.otherCaPem },
            localAddress: address,
            onTrace: trace.onTrace,
          }),
        ),
      );
      expect(error.code).toBe('ETLS');
      expect(trace.lines('client')).toEqual(['CAPA', 'STLS']);
      const log = await logFor(address, (l) => l.length > 0);
      expect(log.join('\n')).toMatch(/no auth attempts/);
    });

    it.each([
      ['as Node prints it', () => server.certs.fingerprint256],
      ['lower-case without colons', () => server.certs.fingerprint256.replace(/:/g, '').toLowerCase()],
    ])('accepts the right SHA-256 pin (%s), on implicit TLS and STLS', async (_what, pin) => {
      for (const tls of ['implicit', 'starttls'] as const) {
        const client = await connect(
          options({
            tls,
            port: tls === 'implicit' ? server.tlsPort : server.plainPort,
            tlsOptions: { ca: server.certs.caPem, certificateSha256: pin() },
          }),
        );
        expect(client.state).toBe('transaction');
        await client.quit();
      }
    });

    it.each(['implicit', 'starttls'] as const)(
      'refuses a wrong SHA-256 pin on %s TLS with ETLS, sending no credentials',
      async (tls) => {
        const trace = recorder();
        const wrongPin = createHash('sha256').update('some other certificate').digest('hex');
        const error = await failure(
          Pop3Client.connect(
            options({
              tls,
              port: tls === 'implicit' ? server.tlsPort : server.plainPort,
              tlsOptions: { ca: server.certs.caPem, certificateSha256: wrongPin },
              onTrace: trace.onTrace,
            }),
          ),
        );
        expect(error.code).toBe('ETLS');
        expect(error.message).toMatch(/does not match the pinned/);
        noCredentialsSent(trace.lines('client'));
      },
    );

    it.each(['implicit', 'starttls'] as const)(
      'refuses a certificate that does not name the server (servername wrong.example) on %s TLS',
      async (tls) => {
        const trace = recorder();
        const error = await failure(
          Pop3Client.connect(
            options({
              tls,
              port: tls === 'implicit' ? server.tlsPort : server.plainPort,
              tlsOptions: { ca: server.certs.caPem, servername: 'wrong.example' },
              onTrace: trace.onTrace,
            }),
          ),
        );
        expect(error.code).toBe('ETLS');
        expect(error.message).toMatch(/wrong\.example/);
        noCredentialsSent(trace.lines('client'));
      },
    );
  });

  // -------------------------------------------------------------------------------------------
  describe('tls "none" on the plain port', () => {
    it.each(['USER', 'PLAIN', 'LOGIN'] as const)(
      'refuses to send the password with %s (ECONFIG) unless allowPlaintextAuth',
      async (method) => {
        const trace = recorder();
        const error = await failure(
          Pop3Client.connect(
            options({
              tls: 'none',
              port: server.plainPort,
              auth: { username: USER, password: PASSWORD, method },
              onTrace: trace.onTrace,
            }),
          ),
        );
        expect(error.code).toBe('ECONFIG');
        expect(error.retryable).toBe(false);
        expect(trace.lines('client')).toEqual(['CAPA']);
      },
    );

    it('logs in with USER/PASS when allowPlaintextAuth is set', async () => {
      const trace = recorder();
      const client = await connect(
        options({
          tls: 'none',
          port: server.plainPort,
          allowPlaintextAuth: true,
          auth: { username: USER, password: PASSWORD, method: 'USER' },
          onTrace: trace.onTrace,
        }),
      );
      expect(client.state).toBe('transaction');
      expect(client.isEncrypted).toBe(false);
      expect(trace.lines('client')).toEqual(['CAPA', 'USER alice', 'PASS [redacted]', 'CAPA']);
      expect(client.capabilities.has('STLS')).toBe(false); // re-read after login
      await client.quit();
    });

    it.each([
      ['APOP', 'APOP [redacted]'],
      ['CRAM-MD5', 'AUTH CRAM-MD5 [redacted]'],
      ['auto', 'AUTH CRAM-MD5 [redacted]'], // `auto` prefers a digest over cleartext
    ] as const)(
      'logs in with %s without allowPlaintextAuth (only a digest crosses)',
      async (method, line) => {
        const trace = recorder();
        const client = await connect(
          options({
            tls: 'none',
            port: server.plainPort,
            auth: { username: USER, password: PASSWORD, method },
            onTrace: trace.onTrace,
          }),
        );
        expect(client.state).toBe('transaction');
        expect(client.isEncrypted).toBe(false);
        expect(trace.lines('client')).toContain(line);
        await client.quit();
      },
    );
  });

  // -------------------------------------------------------------------------------------------
  describe('RETR and TOP, byte for byte against the Maildir files', () => {
    beforeEach(() => server.empty());

    /** Delivers, checks the files hold exactly these bytes, RETRs each and compares. */
    async function expectRetrExact(messages: Buffer[], overrides: Partial<Pop3ClientOptions> = {}) {
      const paths = server.deliver(messages);
      paths.forEach((path, i) => expect(readFileSync(path).equals(messages[i]!)).toBe(true));
      const client = await connect(options(overrides));
      const list = await client.list();
      expect(list.map((e) => e.size)).toEqual(messages.map((m) => m.length));
      for (const [i, message] of messages.entries()) {
        const got = await client.retrBuffer(i + 1);
        expect(got.length).toBe(message.length);
        expect(sha256(got)).toBe(sha256(message));
        expect(got.equals(message)).toBe(true);
      }
      await client.quit();
    }

    it('returns an 8-bit message exactly: every octet 0x80-0xFF, NUL, control bytes, bare CR', async () => {
      const high = Buffer.from(Array.from({ length: 128 }, (_, i) => 0x80 + i));
      const controls = Buffer.from(
        Array.from({ length: 32 }, (_, i) => i)
          .filter((b) => b !== 0x0a && b !== 0x0d)
          .concat([0x7f]),
      );
      const message = Buffer.concat([
        ascii('From: =?utf-8?q?J=C3=BCrgen?= <j@example.test>\r\n'),
        Buffer.concat([
          ascii('Subject: raw 8-bit '),
          Buffer.from('Grüße 日本語', 'utf8'),
          ascii(' \xe9t\xe9\r\n'),
        ]),
        ascii('Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: 8bit\r\n\r\n'),
        high,
        ascii(CRLF),
        Buffer.from(high).reverse(),
        ascii(CRLF),
        controls, // NUL included: Dovecot 2.3 serves it unchanged over POP3
        ascii(CRLF),
        ascii('NULs \0\0 inside, a bare CR \r inside, and 0xFF at the end \xff\r\n'),
        ascii('.\x80\xff a stuffed line of 8-bit octets\r\n'),
        randomBytes(64 * 1024).map((b) => (b === 0x0a || b === 0x0d ? 0x20 : b)),
        ascii(CRLF),
      ]);
      await expectRetrExact([message]);
    });

    it('serves a bare LF in the stored file as CRLF (Dovecot converts it, the client does not)', async () => {
      const stored = ascii('Subject: bare LF\n\nline one\n.dot line\nline three\n');
      server.deliver([stored]);
      const client = await connect(options());
      const got = await client.retrBuffer(1);
      expect(got.equals(ascii(stored.toString('latin1').replace(/\n/g, CRLF)))).toBe(true);
      await client.quit();
    });

    it('unstuffs dot-heavy messages exactly, on implicit TLS and in cleartext', async () => {
      const dots = ascii(
        [
          'Subject: dots',
          '',
          '.starts the body',
          '.',
          '..',
          '...',
          '.x',
          '. ',
          '.\t',
          'x.',
          '',
          '.',
          '.\r', // a dot, then a CR that is data (the line ends CR CR LF)
          '....',
          '.right before the end',
          '',
        ].join(CRLF),
      );
      const lastLineIsDot = ascii(['Subject: last', '', 'body', '.', ''].join(CRLF));
      const onlyDot = ascii(['Subject: only', '', '.', ''].join(CRLF));
      const dotsOnlyBody = ascii(`Subject: many${CRLF}${CRLF}${'.\r\n..\r\n'.repeat(5000)}`);
      const messages = [dots, lastLineIsDot, onlyDot, dotsOnlyBody];
      await expectRetrExact(messages);
      server.empty();
      await expectRetrExact(messages, { tls: 'none', port: server.plainPort, auth: { username: USER, password: PASSWORD, method: 'APOP' } }); // prettier-ignore
    });

    it('returns messages with very long lines exactly (100 KB, 1 MB, 8-bit, dot-led)', async () => {
      const pattern = (length: number, seed: string) => ascii(seed.repeat(Math.ceil(length / seed.length)).slice(0, length)); // prettier-ignore
      const eightBit = randomBytes(300 * 1024).map((b) => (b === 0x0a || b === 0x0d ? 0x41 : b));
      const message = Buffer.concat([
        ascii('Subject: long lines\r\n\r\n'),
        pattern(100 * 1024, 'abcdefghijklmnopqrstuvwxyz0123456789'),
        ascii(CRLF),
        ascii('.'),
        pattern(200 * 1024, '.dot-led line '),
        ascii(CRLF),
        eightBit,
        ascii(CRLF),
        pattern(MB, 'ZYXWVUTSRQPONMLKJIHGFEDCBA'),
        ascii(CRLF),
      ]);
      const singleLine = Buffer.concat([
        ascii('Subject: one line\r\n\r\n'),
        pattern(100 * 1024, 'q'),
        ascii(CRLF),
      ]);
      await expectRetrExact([message, singleLine]);
    });

    it('TOP returns the headers, the blank line and the first N body lines', async () => {
      const headers = Buffer.concat([
        ascii('From: a@example.test\r\nTo: b@example.test\r\n'),
        ascii('Subject: '),
        Buffer.from('Grüße', 'utf8'),
        ascii(CRLF),
      ]);
      const bodyLines = ['first', '.dot-led second', '', 'fourth \xe9', '.', 'last'].map((l) =>
        ascii(l + CRLF),
      );
      const message = Buffer.concat([headers, ascii(CRLF), ...bodyLines]);
      server.deliver([message]);
      const client = await connect(options());
      for (const n of [0, 1, 2, 3, 5]) {
        const want = Buffer.concat([headers, ascii(CRLF), ...bodyLines.slice(0, n)]);
        expect((await client.top(1, n)).equals(want)).toBe(true);
      }
      expect((await client.top(1, 100)).equals(message)).toBe(true);
      await client.quit();
    });

    it('streams a 25 MB message in many chunks, never holding it whole, SHA-256 equal to the file', async () => {
      const big = bigMessage(25 * MB);
      const [path] = server.deliver([big]);
      const want = sha256(readFileSync(path!));
      expect(want).toBe(sha256(big));
      const client = await connect(options());
      const memoryBefore = usedMemory();

      const stream = await client.retr(1);
      // Nobody reads yet: the client must stop reading the socket once its buffer is full.
      await sleep(250);
      const stalled = stream.bytesReceived;
      expect(stalled).toBeGreaterThan(0);
      expect(stalled).toBeLessThan(MB);
      await sleep(100);
      expect(stream.bytesReceived).toBe(stalled);
      expect(usedMemory() - memoryBefore).toBeLessThan(8 * MB);

      const hash = createHash('sha256');
      let chunks = 0;
      let consumed = 0;
      let maxHeld = 0;
      let midwayHeld = -1;
      for await (const chunk of stream) {
        const buffer = chunk as Buffer;
        hash.update(buffer);
        chunks += 1;
        consumed += buffer.length;
        maxHeld = Math.max(maxHeld, stream.bytesReceived - consumed);
        if (chunks % 64 === 0) await sleep(1); // a slow consumer
        if (midwayHeld < 0 && consumed > big.length / 2) {
          // Stall mid-message: what the client holds stays bounded by its buffer.
          await sleep(150);
          midwayHeld = stream.bytesReceived - consumed;
        }
      }
      expect(consumed).toBe(big.length);
      expect(hash.digest('hex')).toBe(want);
      expect(chunks).toBeGreaterThan(50);
      expect(maxHeld).toBeLessThan(MB);
      expect(midwayHeld).toBeGreaterThanOrEqual(0);
      expect(midwayHeld).toBeLessThan(MB);
      // The reply was consumed to its terminator: the session is still in step.
      await client.noop();
      await expect(client.stat()).resolves.toEqual({ count: 1, size: big.length });
      await client.quit();
    });
  });

  // -------------------------------------------------------------------------------------------
  describe('DELE, RSET, QUIT and a dropped connection', () => {
    const messages = [1, 2, 3].map((n) => ascii(`Subject: message ${n}\r\n\r\nbody ${n}\r\n`));
    beforeEach(() => server.empty());

    async function sessionCount(): Promise<number> {
      const client = await connect(options());
      const { count } = await client.stat();
      await client.quit();
      return count;
    }

    it('DELE then QUIT removes exactly the marked files', async () => {
      server.deliver(messages);
      const client = await connect(options());
      await client.dele(1);
      await client.dele(3);
      expect(server.mailboxCount()).toBe(3); // DELE only marks
      await client.quit();
      expect(server.mailboxFiles()).toEqual([messages[1]]);
      expect(await sessionCount()).toBe(1);
    });

    it('DELE then a dropped connection (destroy) keeps every file', async () => {
      server.deliver(messages);
      const address = nextLoopback();
      const client = await connect(options({ localAddress: address }));
      await client.dele(1);
      await client.dele(2);
      client.destroy();
      expect(client.state).toBe('closed');
      await client.closed;
      // Wait until Dovecot has finished with the session before looking at the files.
      expect(await sessionEnd(address)).toMatch(/Disconnected: Connection closed/);
      expect(server.mailboxCount()).toBe(3);
      expect(
        server
          .mailboxFiles()
          .map((f) => f.toString('latin1'))
          .sort(),
      ).toEqual(messages.map((m) => m.toString('latin1')).sort());
      expect(await sessionCount()).toBe(3);
    });

    it('DELE then RSET then QUIT keeps every file', async () => {
      server.deliver(messages);
      const client = await connect(options());
      await client.dele(1);
      await client.dele(2);
      await client.dele(3);
      await expect(client.stat()).resolves.toEqual({ count: 0, size: 0 }); // marked ones are hidden
      await client.rset();
      await expect(client.stat()).resolves.toMatchObject({ count: 3 });
      await client.quit();
      expect(server.mailboxCount()).toBe(3);
      expect(await sessionCount()).toBe(3);
    });
  });

  // -------------------------------------------------------------------------------------------
  describe('Pipelining', () => {
    beforeEach(() => server.empty());

    it('sends 200 RETRs and 200 DELEs without waiting, gets them back in order, and QUIT deletes all', async () => {
      const count = 200;
      const window = 32;
      // Distinct content and lengths, so a reply matched to the wrong command cannot pass.
      const messages = Array.from({ length: count }, (_, i) =>
        ascii(`Subject: message ${i + 1}\r\n\r\n${`line of message ${i + 1}\r\n`.repeat(1 + (i % 7))}`),
      );
      server.deliver(messages);
      const trace = recorder();
      const client = await connect(options({ onTrace: trace.onTrace, pipelineWindow: window }));
      expect(client.pipelining).toBe(true);
      trace.events.splice(0);

      const retrs = messages.map((_, i) => client.retrBuffer(i + 1));
      const deles = messages.map((_, i) => client.dele(i + 1));
      const bodies = await Promise.all(retrs);
      await Promise.all(deles);
      bodies.forEach((body, i) => expect(body.toString('latin1')).toBe(messages[i]!.toString('latin1')));

      // Several commands left before the first reply came back, and never more than the window.
      const firstReply = trace.events.findIndex((e) => e.direction === 'server');
      expect(firstReply).toBe(window);
      let outstanding = 0;
      let maxOutstanding = 0;
      for (const event of trace.events) {
        outstanding += event.direction === 'client' ? 1 : -1;
        maxOutstanding = Math.max(maxOutstanding, outstanding);
      }
      expect(outstanding).toBe(0);
      expect(maxOutstanding).toBe(window);
      const sent = trace.lines('client');
      expect(sent).toEqual([
        ...messages.map((_, i) => `RETR ${i + 1}`),
        ...messages.map((_, i) => `DELE ${i + 1}`),
      ]);

      await client.quit();
      expect(server.mailboxCount()).toBe(0);
    });
  });

  // -------------------------------------------------------------------------------------------
  describe('[SYS/TEMP]: a mailbox the mail uid cannot read', () => {
    beforeAll(() => chmodSync(server.maildir(BROKEN_USER), 0o000));
    afterAll(() => chmodSync(server.maildir(BROKEN_USER), 0o700));

    it('fails the login with ESYS_TEMP, retryable', async () => {
      const trace = recorder();
      const error = await failure(
        Pop3Client.connect(
          options({ auth: { username: BROKEN_USER, password: BROKEN_PASSWORD }, onTrace: trace.onTrace }),
        ),
      );
      expect(error.code).toBe('ESYS_TEMP');
      expect(error.retryable).toBe(true);
      expect(error.response).toMatch(/^-ERR \[SYS\/TEMP\] Internal error occurred/);
      // Dovecot says `+OK Logged in.` first, then the -ERR on its own.
      expect(trace.lines('server')).toContain('+OK Logged in.');
      // Dovecot's log process may write the mail process's error after the client has read it.
      const deadline = Date.now() + 3_000;
      while (!/pop3\(bob\).*Permission denied/.test(server.log()) && Date.now() < deadline) await sleep(20);
      expect(server.log()).toMatch(/pop3\(bob\).*Permission denied/);
    });

    it('reports ESYS_TEMP even when the -ERR arrives in the same read as "+OK Logged in."', async () => {
      // Regression: the -ERR came with no command outstanding and was reported as a protocol
      // error, and the login then revived the closed session, which failed with ECONNECTION.
      // Blocking the event loop right after the login line leaves both lines in one socket read.
      const trace = recorder();
      const error = await failure(
        Pop3Client.connect(
          options({
            tls: 'none',
            port: server.plainPort,
            auth: { username: BROKEN_USER, password: BROKEN_PASSWORD, method: 'APOP' },
            onTrace: (event) => {
              trace.onTrace(event);
              if (event.direction === 'client' && event.line.startsWith('APOP'))
                setImmediate(() => busyWait(300));
            },
          }),
        ),
      );
      expect(error.code).toBe('ESYS_TEMP');
      expect(error.retryable).toBe(true);
      expect(error.response).toMatch(/^-ERR \[SYS\/TEMP\]/);
      expect(trace.lines('server')).toContain('+OK Logged in.');
    });
  });

  // -------------------------------------------------------------------------------------------
  describe('With pop3_lock_session = yes', () => {
    let locking: DovecotServer;
    const lockedOut = { name: 'carol', password: 'C4rol-S3cret-pa55' };

    beforeAll(async () => {
      locking = await DovecotServer.start({
        users: [{ name: USER, password: PASSWORD }, lockedOut],
        extraConfig: 'pop3_lock_session = yes',
      });
    });
    afterAll(async () => {
      await locking?.stop();
    });

    const lockingOptions = (overrides: Partial<Pop3ClientOptions> = {}) =>
      options({ port: locking.tlsPort, tlsOptions: { ca: locking.certs.caPem }, ...overrides });

    it('a second concurrent login gets -ERR [IN-USE]: EIN_USE, retryable (Dovecot waits ~10 s)', async () => {
      locking.deliver([ascii('Subject: locked\r\n\r\nhello\r\n')]);
      const first = await connect(lockingOptions());
      const started = Date.now();
      // Dovecot is silent while it waits for the lock: allow for that in the idle timeout.
      const waiting = lockingOptions({ timeouts: { connectMs: 5_000, greetingMs: 5_000, idleMs: 20_000 } });
      const error = await failure(Pop3Client.connect(waiting));
      expect(error.code).toBe('EIN_USE');
      expect(error.retryable).toBe(true);
      expect(error.command).toBe('AUTH');
      expect(error.response).toBe('-ERR [IN-USE] Mailbox is locked by another POP3 session.');
      expect(Date.now() - started).toBeGreaterThan(5_000);

      // The holder is unaffected, and once it quits the lock is free.
      await expect(first.stat()).resolves.toMatchObject({ count: 1 });
      await first.quit();
      const next = await connect(lockingOptions());
      await expect(next.stat()).resolves.toMatchObject({ count: 1 });
      await next.quit();
    });

    it('an unwritable Maildir fails the login itself with [SYS/TEMP]: ESYS_TEMP, retryable', async () => {
      chmodSync(locking.maildir(lockedOut.name), 0o000);
      const error = await failure(
        Pop3Client.connect(
          lockingOptions({ auth: { username: lockedOut.name, password: lockedOut.password } }),
        ),
      );
      expect(error.code).toBe('ESYS_TEMP');
      expect(error.retryable).toBe(true);
      expect(error.command).toBe('AUTH');
      expect(error.response).toBe('-ERR [SYS/TEMP] Failed to create POP3 session lock.');
    });
  });
});

/** heap plus Buffers: what the process holds in JavaScript-visible memory. */
function usedMemory(): number {
  const { heapUsed, arrayBuffers } = process.memoryUsage();
  return heapUsed + arrayBuffers;
}

/** About `target` bytes of CRLF mail: base64 lines, every 500th led by a dot (so stuffed). */
function bigMessage(target: number): Buffer {
  const header = ascii(
    'From: big@example.test\r\nSubject: 25 MB\r\nContent-Transfer-Encoding: base64\r\n\r\n',
  );
  const lineLength = 76;
  const lines = Math.ceil((target - header.length) / (lineLength + 2));
  const text = ascii(randomBytes(lines * 57).toString('base64'));
  const out = Buffer.alloc(header.length + lines * (lineLength + 2));
  header.copy(out);
  let at = header.length;
  for (let i = 0; i < lines; i += 1) {
    text.copy(out, at, i * lineLength, (i + 1) * lineLength);
    if (i % 500 === 0) out[at] = 0x2e;
    out[at + lineLength] = 0x0d;
    out[at + lineLength + 1] = 0x0a;
    at += lineLength + 2;
  }
  return out;
}
