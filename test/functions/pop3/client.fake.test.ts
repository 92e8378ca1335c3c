import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { TLSSocket } from 'node:tls';
import type { Pop3ClientOptions } from '../../../functions/pop3/options';
import { Pop3Error } from '../../../functions/pop3/errors';
import { makeTestCertificates, type TestCertificates } from '../../support/certs';
import { expectPop3Error, fakeClientHarness, PASSWORD, USERNAME } from '../../support/fake-client';
import {
  capaReply,
  dotStuff,
  mailboxScript,
  multiLine,
  type FakeScript,
  type FakeServer,
  type MailboxScriptOptions,
  type Reply,
} from '../../support/fake-pop3-server';

// Every test here takes well under 2 s; a short timeout turns a hang into a quick failure.
jest.setTimeout(5_000);

const b64 = (text: string) => Buffer.from(text, 'utf8').toString('base64');

const { serve, mailbox, connect } = fakeClientHarness({ idleMs: 1000 });

/** Connects, expecting failure, and returns the Pop3Error. */
async function connectError(
  server: FakeServer,
  overrides: Partial<Pop3ClientOptions> = {},
): Promise<Pop3Error> {
  return expectPop3Error(connect(server, overrides));
}

/** Every text through which a secret could escape from an error. */
function errorText(error: unknown): string {
  const parts: string[] = [];
  for (let e = error; e !== undefined && e !== null; e = (e as { cause?: unknown }).cause) {
    const { message, stack, response } = e as Partial<Pop3Error>;
    parts.push(String(e), message ?? '', stack ?? '', response ?? '', JSON.stringify(e) ?? '');
  }
  return parts.join('\n');
}

/** Replies to AUTH exchanges step by step: the n-th line of the exchange gets `steps[n]`. */
function saslScript(
  mechanismLine: string,
  steps: Array<(line: string) => Reply>,
  options: MailboxScriptOptions = {},
): FakeScript {
  let step = -1;
  return mailboxScript({
    username: USERNAME,
    password: PASSWORD,
    ...options,
    override: (line) => {
      if (line === mechanismLine) step = 0;
      else if (step < 0 || step >= steps.length) return undefined;
      return steps[step++]!(line);
    },
  });
}

const okAfterLogin = () => '+OK logged in\r\n';

describe('Class: Pop3Client (against a scripted server)', () => {
  let certs: TestCertificates;
  beforeAll(() => {
    certs = makeTestCertificates();
  }, 30_000);

  describe('SASL continuations (RFC 5034 §4, field notes lesson 9)', () => {
    it('sends an AUTH PLAIN initial response too long for the command line after a continuation that came as +OK', async () => {
      const password = 'p'.repeat(200); // AUTH PLAIN + base64 of 207 octets > 255 octets
      const expected = b64(`\0${USERNAME}\0${password}`);
      const server = await serve(
        saslScript(
          'AUTH PLAIN',
          [() => '+OK\r\n', (line) => (line === expected ? okAfterLogin() : '-ERR\r\n')],
          {
            capa: ['SASL PLAIN'],
          },
        ),
      );

      const client = await connect(server, { auth: { username: USERNAME, password } });

      expect(client.state).toBe('transaction');
      expect(server.received.texts()).toEqual(['CAPA', 'AUTH PLAIN', expected, 'CAPA']);
    });

    it('puts a short AUTH PLAIN initial response on the AUTH line', async () => {
      const expected = b64(`\0${USERNAME}\0${PASSWORD}`);
      const server = await serve(
        saslScript(`AUTH PLAIN ${expected}`, [okAfterLogin], { capa: ['SASL PLAIN'] }),
      );

      await connect(server);

      expect(server.received.texts()).toEqual(['CAPA', `AUTH PLAIN ${expected}`, 'CAPA']);
    });

    it('answers AUTH LOGIN prompts that came as +OK instead of +', async () => {
      const server = await serve(
        saslScript('AUTH LOGIN', [() => '+OK\r\n', () => '+OK\r\n', okAfterLogin], { capa: ['SASL LOGIN'] }),
      );

      const client = await connect(server, {
        auth: { username: USERNAME, password: PASSWORD, method: 'LOGIN' },
      });

      expect(client.state).toBe('transaction');
      expect(server.received.texts()).toEqual(['CAPA', 'AUTH LOGIN', b64(USERNAME), b64(PASSWORD), 'CAPA']);
    });
  });

  describe('OAuth 2.0 (XOAUTH2, OAUTHBEARER)', () => {
    const token = `ya29.${randomBytes(900).toString('base64url')}`; // > 1 KB, like real tokens
    const username = 'a,b=c@example.com';
    const mechanisms = [
      {
        name: 'XOAUTH2',
        payload: b64(`user=${username}\x01auth=Bearer ${token}\x01\x01`),
        errorAnswer: '',
      },
      {
        name: 'OAUTHBEARER',
        // RFC 7628 §3.1 with the RFC 5801 saslname escaping of `,` and `=`.
        payload: b64(`n,a=a=2Cb=3Dc@example.com,\x01auth=Bearer ${token}\x01\x01`),
        errorAnswer: 'AQ==',
      },
    ] as const;

    it.each(mechanisms)(
      '$name sends the mechanism alone, then the token after "+ "',
      async ({ name, payload }) => {
        const server = await serve(
          saslScript(
            `AUTH ${name}`,
            [() => '+ \r\n', (line) => (line === payload ? okAfterLogin() : '-ERR\r\n')],
            {
              capa: [`SASL ${name}`],
            },
          ),
        );

        const client = await connect(server, { auth: { username, accessToken: token } });

        expect(client.state).toBe('transaction');
        expect(server.received.texts()).toEqual(['CAPA', `AUTH ${name}`, payload, 'CAPA']);
      },
    );

    it.each(mechanisms)(
      '$name answers an error challenge as the mechanism says and reports the final -ERR [AUTH] as EAUTH',
      async ({ name, payload, errorAnswer }) => {
        const challenge = b64('{"status":"401","schemes":"Bearer","scope":"https://mail.google.com/"}');
        const server = await serve(
          saslScript(
            `AUTH ${name}`,
            [() => '+ \r\n', () => `+ ${challenge}\r\n`, () => '-ERR [AUTH] Invalid credentials\r\n'],
            { capa: [`SASL ${name}`] },
          ),
        );

        const error = await connectError(server, { auth: { username, accessToken: token } });

        expect(error).toMatchObject({ code: 'EAUTH', retryable: false, command: 'AUTH' });
        expect(server.received.texts()).toEqual(['CAPA', `AUTH ${name}`, payload, errorAnswer]);
        await server.connectionClosed();
      },
    );
  });

  describe('connection lost mid-reply', () => {
    it('fails a multi-line reply that ends without its terminator with ECONNECTION', async () => {
      const server = await mailbox({
        messages: ['a'],
        override: (line) => (line === 'LIST' ? ['+OK\r\n1 100\r\n', 'close'] : undefined),
      });
      const client = await connect(server);

      const error = await expectPop3Error(client.list());

      expect(error).toMatchObject({ code: 'ECONNECTION', command: 'LIST', retryable: true });
      expect(client.state).toBe('closed');
      await expect(client.stat()).rejects.toMatchObject({ code: 'ECONNECTION' });
    });

    it('errors the message stream when the server closes in the middle of RETR', async () => {
      const server = await mailbox({
        messages: ['a'],
        override: (line) =>
          line === 'RETR 1' ? ['+OK\r\n', 'Subject: cut\r\n\r\npartial bo', 'close'] : undefined,
      });
      const client = await connect(server);

      const stream = await client.retr(1);
      const error = await expectPop3Error(stream.toBuffer());

      expect(error).toMatchObject({ code: 'ECONNECTION', command: 'RETR' });
      expect(stream.destroyed).toBe(true);
      await client.closed;
    });

    it('rejects RETR with ECONNECTION when the server closes before answering', async () => {
      const server = await mailbox({
        messages: ['a'],
        override: (line) => (line === 'RETR 1' ? 'close' : undefined),
      });
      const client = await connect(server);

      await expect(client.retr(1)).rejects.toMatchObject({ code: 'ECONNECTION', command: 'RETR' });
    });

    it('errors a pipelined message stream that nobody reads yet without crashing, and keeps the finished one', async () => {
      const server = await mailbox({
        messages: ['first message\r\n', 'second message\r\n'],
        capaAfterLogin: ['USER', 'PIPELINING'],
        override: (line) => (line === 'RETR 2' ? ['+OK\r\n', 'second mes', 'close'] : undefined),
      });
      const client = await connect(server);

      const first = client.retr(1);
      const second = client.retr(2);
      await client.closed; // both replies arrived (one whole, one cut) before anything is read
      await sleep(20); // let any stray 'error' event fire while no listener is attached

      await expect((await first).toBuffer()).resolves.toEqual(Buffer.from('first message\r\n'));
      const error = await expectPop3Error((await second).toBuffer());
      expect(error.code).toBe('ECONNECTION');
    });
  });

  describe('limits', () => {
    it.each([
      ['with a line ending', `+OK ${'x'.repeat(600)}\r\n`],
      ['without any line ending', `+OK ${'x'.repeat(600)}`],
    ])('closes the connection with ELIMIT on a status line over 512 octets (%s)', async (_, reply) => {
      const server = await mailbox({ override: (line) => (line === 'NOOP' ? reply : undefined) });
      const client = await connect(server);

      await expect(client.noop()).rejects.toMatchObject({ code: 'ELIMIT', retryable: false });

      expect(client.state).toBe('closed');
      await server.connectionClosed();
    });

    it('accepts a status line of exactly 512 octets', async () => {
      const reply = `+OK ${'x'.repeat(512 - '+OK '.length - 2)}\r\n`;
      expect(reply).toHaveLength(512);
      const server = await mailbox({ override: (line) => (line === 'NOOP' ? reply : undefined) });
      const client = await connect(server);

      await expect(client.noop()).resolves.toBeUndefined();
    });

    it('reads a message with a 100 KB line (no line-length limit inside bodies)', async () => {
      const message = `Subject: long\r\n\r\n${'y'.repeat(100_000)}\r\n`;
      const server = await mailbox({ messages: [message] });
      const client = await connect(server);

      await expect(client.retrBuffer(1)).resolves.toEqual(Buffer.from(message));
    });

    it('fails TOP over maxMessageBytes with ELIMIT and keeps the session usable', async () => {
      const big = `Subject: big\r\n\r\n${'z'.repeat(5000)}\r\n`;
      const server = await mailbox({
        messages: [big],
        override: (line) => (line === 'TOP 1 10' ? multiLine(big) : undefined),
      });
      const client = await connect(server, { maxMessageBytes: 1000 });

      await expect(client.top(1, 10)).rejects.toMatchObject({ code: 'ELIMIT', command: 'TOP' });
      await expect(client.noop()).resolves.toBeUndefined();
    });

    it('errors the stream of a message over maxMessageBytes with ELIMIT and keeps the session usable', async () => {
      const big = `Subject: big\r\n\r\n${'z'.repeat(5000)}\r\n`;
      const server = await mailbox({ messages: [big, 'small\r\n'] });
      const client = await connect(server, { maxMessageBytes: 1000 });

      const stream = await client.retr(1);
      const error = await expectPop3Error(stream.toBuffer());

      expect(error).toMatchObject({ code: 'ELIMIT', command: 'RETR' });
      await expect(client.retrBuffer(2)).resolves.toEqual(Buffer.from('small\r\n'));
      await expect(client.stat()).resolves.toEqual({ count: 2, size: big.length + 'small\r\n'.length });
    });
  });

  describe('response codes (RFC 2449 §8, RFC 3206)', () => {
    it.each([
      { reply: '-ERR [IN-USE] mailbox locked', code: 'EIN_USE', retryable: true },
      { reply: '-ERR [LOGIN-DELAY] too soon', code: 'ELOGIN_DELAY', retryable: true, retryAfterSeconds: 300 },
      { reply: '-ERR [SYS/TEMP] try later', code: 'ESYS_TEMP', retryable: true },
      { reply: '-ERR [SYS/PERM] mailbox broken', code: 'ESYS_PERM', retryable: false },
      { reply: '-ERR [AUTH] invalid login', code: 'EAUTH', retryable: false },
      { reply: '-ERR invalid login', code: 'EAUTH', retryable: false },
      { reply: '-ERR [in-use] lower-case code', code: 'EIN_USE', retryable: true },
    ])('maps "$reply" to PASS to $code', async ({ reply, code, retryable, retryAfterSeconds }) => {
      const server = await mailbox({
        capa: ['USER', 'LOGIN-DELAY 300'],
        override: (line) => (line.startsWith('PASS ') ? `${reply}\r\n` : undefined),
      });

      const error = await connectError(server);

      expect(error).toMatchObject({ code, retryable, command: 'PASS' });
      expect(error.retryAfterSeconds).toBe(retryAfterSeconds);
      await server.connectionClosed();
    });

    it('reports a plain -ERR to RETR as ECOMMAND and keeps the session usable', async () => {
      const server = await mailbox({ messages: ['hello\r\n'] });
      const client = await connect(server);

      const error = await expectPop3Error(client.retr(7));

      expect(error).toMatchObject({
        code: 'ECOMMAND',
        retryable: false,
        command: 'RETR',
        response: '-ERR no such message',
      });
      expect(client.state).toBe('transaction');
      await expect(client.retrBuffer(1)).resolves.toEqual(Buffer.from('hello\r\n'));
    });
  });

  describe('STLS (RFC 2595)', () => {
    const credentialVerbs = /^(USER|PASS|AUTH|APOP)\b/i;

    it.each([
      ['in the same write as +OK', ['+OK Begin TLS\r\n+OK injected\r\n'] as Reply],
      ['in a separate write right after +OK', ['+OK Begin TLS\r\n', '+OK injected\r\n'] as Reply],
      ['shortly after +OK', ['+OK Begin TLS\r\n', { data: '+OK injected\r\n', delayMs: 30 }] as Reply],
    ])('fails with ETLS when bytes are injected %s, and sends no credentials', async (_, stlsReply) => {
      const server = await mailbox({
        capa: ['STLS', 'USER'],
        override: (line) =>
          line === 'STLS' ? stlsReply : credentialVerbs.test(line) ? '+OK\r\n' : undefined,
      });

      const error = await connectError(server, {
        tls: 'starttls',
        allowPlaintextAuth: false,
        tlsOptions: { ca: certs.caPem },
      });

      expect(error.code).toBe('ETLS');
      // In one read the injection guard sees the bytes; later ones are fed to the TLS handshake,
      // which fails on them. Either way nothing injected is ever taken as a reply.
      if (typeof stlsReply !== 'string' && stlsReply.length === 1) {
        expect(error.message).toMatch(/octets after \+OK to STLS/);
      }
      expect(server.received.texts().slice(0, 2)).toEqual(['CAPA', 'STLS']);
      expect(server.received.texts().some((line) => credentialVerbs.test(line))).toBe(false);
      expect(server.received.bytes().includes(PASSWORD)).toBe(false);
      await server.connectionClosed();
    });

    it('fails with ETLS when STLS is required but not advertised', async () => {
      const server = await mailbox({ capa: ['USER'] });

      const error = await connectError(server, { tls: 'starttls', allowPlaintextAuth: false });

      expect(error).toMatchObject({ code: 'ETLS', command: 'STLS' });
      expect(server.received.texts()).toEqual(['CAPA']);
    });

    function stlsMailbox(): Promise<FakeServer> {
      return serve(
        mailboxScript({
          username: USERNAME,
          password: PASSWORD,
          override: (line, ctx) => {
            const secure = ctx.socket instanceof TLSSocket;
            if (line === 'CAPA' && !secure) return capaReply('STLS', 'USER');
            if (line === 'CAPA') return capaReply('USER', 'UIDL', 'X-AFTER-TLS');
            if (line === 'STLS') {
              return async (c) => {
                c.write('+OK Begin TLS negotiation\r\n');
                await c.startTls();
              };
            }
            return undefined;
          },
        }),
        { certificate: certs },
      );
    }

    it('upgrades to TLS, verifies the certificate and re-issues CAPA before logging in', async () => {
      const server = await stlsMailbox();

      const client = await connect(server, {
        tls: 'starttls',
        allowPlaintextAuth: false,
        tlsOptions: { ca: certs.caPem },
      });

      expect(client.isEncrypted).toBe(true);
      expect(client.capabilities.has('X-AFTER-TLS')).toBe(true);
      expect(client.capabilities.has('STLS')).toBe(false);
      const lines = server.received.lines.map(({ line, tls }) => ({ line, tls }));
      expect(lines).toEqual([
        { line: 'CAPA', tls: false },
        { line: 'STLS', tls: false },
        { line: 'CAPA', tls: true },
        { line: `USER ${USERNAME}`, tls: true },
        { line: `PASS ${PASSWORD}`, tls: true },
        { line: 'CAPA', tls: true },
      ]);
    });

    it('fails with ETLS when the STLS certificate is not signed by a trusted CA, before any credential', async () => {
      const server = await stlsMailbox();

      const error = await connectError(server, { tls: 'starttls', tlsOptions: { ca: certs.otherCaPem } });

      expect(error.code).toBe('ETLS');
      expect(server.received.texts()).toEqual(['CAPA', 'STLS']);
    });
  });

  describe('implicit TLS (RFC 8314)', () => {
    it('logs in over implicit TLS with the test CA and a matching certificate pin', async () => {
      const server = await serve(mailboxScript({ username: USERNAME, password: PASSWORD }), {
        certificate: certs,
        implicitTls: true,
      });

      const client = await connect(server, {
        tls: 'implicit',
        allowPlaintextAuth: false,
        tlsOptions: { ca: certs.caPem, certificateSha256: certs.fingerprint256 },
      });

      expect(client.isEncrypted).toBe(true);
      expect(server.received.lines.every((l) => l.tls)).toBe(true);
    });

    it('fails with ETLS on a certificate pin mismatch, before any command', async () => {
      const server = await serve(mailboxScript({ username: USERNAME, password: PASSWORD }), {
        certificate: certs,
        implicitTls: true,
      });

      const error = await connectError(server, {
        tls: 'implicit',
        tlsOptions: { ca: certs.caPem, certificateSha256: 'ab'.repeat(32) },
      });

      expect(error.code).toBe('ETLS');
      expect(error.message).toMatch(/does not match the pinned/);
      expect(server.received.lines).toEqual([]);
    });
  });

  describe('session start and end', () => {
    it.each([
      ['-ERR [SYS/TEMP] too many connections', 'ESYS_TEMP'],
      ['-ERR go away', 'ECONNECTION'],
    ])('fails on the greeting "%s" with %s, sending nothing', async (greeting, code) => {
      const server = await mailbox({ greeting: `${greeting}\r\n` });

      const error = await connectError(server);

      expect(error).toMatchObject({ code, retryable: true, command: 'greeting' });
      expect(server.received.lines).toEqual([]);
    });

    it('ends the session with QUIT and closes cleanly when the server hangs up after +OK', async () => {
      const server = await mailbox({ messages: ['a'] });
      const client = await connect(server);

      await client.dele(1);
      await client.quit();

      expect(client.state).toBe('closed');
      expect(server.received.texts().slice(-2)).toEqual(['DELE 1', 'QUIT']);
      await server.connectionClosed();
      await expect(client.noop()).rejects.toMatchObject({ code: 'ECLOSED' });
    });
  });

  describe('timeouts and abort', () => {
    it('fails with ETIMEDOUT when the server stops answering (idle timeout)', async () => {
      const server = await mailbox({ override: (line) => (line === 'STAT' ? 'silent' : undefined) });
      const client = await connect(server, { timeouts: { idleMs: 300 } });

      const started = performance.now();
      const error = await expectPop3Error(client.stat());

      expect(error).toMatchObject({ code: 'ETIMEDOUT', command: 'STAT', retryable: true });
      expect(performance.now() - started).toBeGreaterThanOrEqual(250);
      await server.connectionClosed();
    });

    it('fails with ETIMEDOUT when the server never greets (greeting timeout)', async () => {
      const server = await mailbox({ greeting: 'silent' });

      const started = performance.now();
      const error = await connectError(server, { timeouts: { greetingMs: 200, idleMs: 5000 } });

      expect(error.code).toBe('ETIMEDOUT');
      expect(error.message).toMatch(/greeting/);
      expect(performance.now() - started).toBeLessThan(1000);
      await server.connectionClosed();
    });

    it('fails with EABORTED and closes the socket when the signal aborts mid-command', async () => {
      const server = await mailbox({
        messages: ['a'],
        override: (line) => (line === 'RETR 1' ? 'silent' : undefined),
      });
      const controller = new AbortController();
      const client = await connect(server, { signal: controller.signal });

      const retr = client.retr(1);
      setTimeout(() => controller.abort(new Error('shutting down')), 50);

      await expect(retr).rejects.toMatchObject({ code: 'EABORTED' });
      expect(client.state).toBe('closed');
      await server.connectionClosed();
    });
  });

  describe('refusing unsafe requests', () => {
    it('refuses a username containing CR LF before connecting', async () => {
      const server = await mailbox();

      const error = await connectError(server, { auth: { username: 'alice\r\nDELE 1', password: PASSWORD } });

      expect(error.code).toBe('ECONFIG');
      expect(server.connections()).toBe(0);
    });

    it('refuses a password containing CR LF without sending PASS', async () => {
      const server = await mailbox();

      const error = await connectError(server, { auth: { username: USERNAME, password: 'x\r\nDELE 1' } });

      expect(error).toMatchObject({ code: 'ECONFIG', command: 'PASS' });
      expect(server.received.texts()).toEqual(['CAPA', `USER ${USERNAME}`]);
    });

    it('refuses USER/PASS over tls "none" without allowPlaintextAuth, sending nothing of the login', async () => {
      const server = await mailbox();

      const error = await connectError(server, { allowPlaintextAuth: false });

      expect(error.code).toBe('ECONFIG');
      expect(error.message).toMatch(/allowPlaintextAuth/);
      expect(server.received.texts()).toEqual(['CAPA']);
    });

    it('sends USER/PASS over tls "none" when allowPlaintextAuth is true', async () => {
      const server = await mailbox();

      const client = await connect(server, { allowPlaintextAuth: true });

      expect(client.isEncrypted).toBe(false);
      expect(server.received.texts()).toEqual(['CAPA', `USER ${USERNAME}`, `PASS ${PASSWORD}`, 'CAPA']);
    });

    it('allows APOP over tls "none": only the digest crosses the wire (RFC 1939 §7 example)', async () => {
      const server = await serve(
        mailboxScript({
          greeting: '+OK POP3 server ready <1896.697170952@dbc.mtview.ca.us>\r\n',
          capa: ['TOP', 'UIDL'],
          override: (line) =>
            line === 'APOP mrose c4c9334bac560ecc979e58001b3e22fb' ? '+OK maildrop locked\r\n' : undefined,
        }),
      );

      const client = await connect(server, {
        allowPlaintextAuth: false,
        auth: { username: 'mrose', password: 'tanstaaf' },
      });

      expect(client.state).toBe('transaction');
      expect(server.received.texts()).toEqual([
        'CAPA',
        'APOP mrose c4c9334bac560ecc979e58001b3e22fb',
        'CAPA',
      ]);
      expect(server.received.bytes().includes('tanstaaf')).toBe(false);
    });

    it('refuses a message number that is not a positive integer without sending anything', async () => {
      const server = await mailbox({ messages: ['a'] });
      const client = await connect(server);
      const before = server.received.lines.length;

      await expect(client.retr(0)).rejects.toMatchObject({ code: 'ECONFIG' });
      await expect(client.dele(1.5)).rejects.toMatchObject({ code: 'ECONFIG' });
      await client.noop();

      expect(server.received.texts().slice(before)).toEqual(['NOOP']);
    });
  });

  describe('secrets stay out of errors and traces', () => {
    /** Asserts none of the forms of `secrets` appears in the error or the traces. */
    function expectNoLeak(error: unknown, traces: string[], secrets: string[]): void {
      const surface = `${errorText(error)}\n${traces.join('\n')}`;
      for (const secret of secrets) expect(surface).not.toContain(secret);
    }

    it('keeps the password out when the server echoes it in its -ERR to PASS', async () => {
      const traces: string[] = [];
      const server = await mailbox({
        override: (line) =>
          line.startsWith('PASS ')
            ? `-ERR [AUTH] wrong password ${line.slice(5)} for ${USERNAME}\r\n`
            : undefined,
      });

      const error = await connectError(server, {
        onTrace: (event) => traces.push(`${event.direction} ${event.line}`),
      });

      expect(error.code).toBe('EAUTH');
      expect(error.response).toContain('[redacted]');
      expect(traces).toContain('client PASS [redacted]');
      expectNoLeak(error, traces, [PASSWORD, b64(PASSWORD)]);
    });

    it('keeps the password out when the server echoes the AUTH PLAIN response line', async () => {
      const traces: string[] = [];
      const response = b64(`\0${USERNAME}\0${PASSWORD}`);
      const server = await serve(
        saslScript(`AUTH PLAIN ${response}`, [(line) => `-ERR [AUTH] bad credentials: ${line}\r\n`], {
          capa: ['SASL PLAIN'],
        }),
      );

      const error = await connectError(server, { onTrace: (event) => traces.push(event.line) });

      expect(error.code).toBe('EAUTH');
      expect(traces.some((t) => t.startsWith('AUTH PLAIN'))).toBe(true);
      // The SASL response is the password in base64 (with the username in front): it is a secret too.
      expectNoLeak(error, traces, [PASSWORD, b64(PASSWORD), response]);
    });

    it('keeps an OAuth token out when the server echoes it in a challenge and in its -ERR', async () => {
      const traces: string[] = [];
      // Short enough that the echoes still fit in a 512-octet status line.
      const token = `ya29.${randomBytes(150).toString('base64url')}`;
      const payload = b64(`user=${USERNAME}\x01auth=Bearer ${token}\x01\x01`);
      const server = await serve(
        saslScript(
          'AUTH XOAUTH2',
          [() => '+ \r\n', (line) => `+ ${line}\r\n`, () => `-ERR [AUTH] token ${token} rejected\r\n`],
          { capa: ['SASL XOAUTH2'] },
        ),
      );

      const error = await connectError(server, {
        auth: { username: USERNAME, accessToken: token },
        onTrace: (event) => traces.push(event.line),
      });

      expect(error.code).toBe('EAUTH');
      expectNoLeak(error, traces, [token, b64(token), payload]);
    });
  });

  describe('pipelining (RFC 2449 §6.6)', () => {
    const messages = Array.from(
      { length: 20 },
      (_, i) => `Subject: message ${i + 1}\r\n\r\nbody ${i + 1}\r\n`,
    );

    it('sends 20 RETR and 20 DELE in a few TCP segments when PIPELINING is offered after login', async () => {
      const server = await mailbox({ messages, capaAfterLogin: ['USER', 'UIDL', 'PIPELINING'] });
      const client = await connect(server);
      expect(client.pipelining).toBe(true);
      const before = server.received.lines.length;

      const retrieved = messages.map((_, i) => client.retr(i + 1));
      const deleted = messages.map((_, i) => client.dele(i + 1));
      const bodies: Buffer[] = [];
      for (const stream of retrieved) bodies.push(await (await stream).toBuffer());
      await Promise.all(deleted);

      expect(bodies).toEqual(messages.map((m) => Buffer.from(m)));
      const batch = server.received.lines.slice(before);
      expect(batch.map((l) => l.line)).toEqual([
        ...messages.map((_, i) => `RETR ${i + 1}`),
        ...messages.map((_, i) => `DELE ${i + 1}`),
      ]);
      expect(new Set(batch.map((l) => l.chunk)).size).toBeLessThanOrEqual(3);
      await expect(client.stat()).resolves.toEqual({ count: 0, size: 0 });
    });

    it('runs in lock-step without PIPELINING: no command before the previous reply is complete', async () => {
      const script = mailboxScript({ username: USERNAME, password: PASSWORD, messages });
      // Answer slowly, so a client that did not wait would be caught sending early.
      const server = await serve({
        handle: async (line, ctx) => {
          const reply = await script.handle(line, ctx);
          return typeof reply === 'string' || Buffer.isBuffer(reply) ? [{ data: reply, delayMs: 2 }] : reply;
        },
      });
      const client = await connect(server);
      expect(client.pipelining).toBe(false);

      const retrieved = messages.map((_, i) => client.retr(i + 1));
      const deleted = messages.map((_, i) => client.dele(i + 1));
      const bodies: Buffer[] = [];
      for (const stream of retrieved) bodies.push(await (await stream).toBuffer());
      await Promise.all(deleted);

      expect(bodies).toEqual(messages.map((m) => Buffer.from(m)));
      expect(server.received.lines).toHaveLength(4 + 40);
      server.received.lines.forEach((line, index) => expect(line.answeredBefore).toBe(index));
    });

    it('keeps at most pipelineWindow commands in flight', async () => {
      const script = mailboxScript({
        username: USERNAME,
        password: PASSWORD,
        messages,
        capaAfterLogin: ['USER', 'PIPELINING'],
      });
      const server = await serve({
        handle: async (line, ctx) => {
          const reply = await script.handle(line, ctx);
          return line.startsWith('DELE') ? [{ data: reply as string, delayMs: 2 }] : reply;
        },
      });
      const client = await connect(server, { pipelineWindow: 4 });
      const before = server.received.lines.length;

      await Promise.all(messages.map((_, i) => client.dele(i + 1)));

      const batch = server.received.lines.slice(before);
      expect(batch).toHaveLength(20);
      // A command arriving while k earlier ones are unanswered means k + 1 were in flight.
      const inFlight = batch.map((line, i) => before + i - line.answeredBefore + 1);
      expect(Math.max(...inFlight)).toBe(4);
    });

    it('does not pipeline when PIPELINING is offered only before login', async () => {
      const server = await mailbox({ capa: ['USER', 'PIPELINING'], capaAfterLogin: ['USER'] });

      const client = await connect(server);

      expect(client.pipelining).toBe(false);
    });

    it('delivers dot-stuffed 8-bit bodies split over many tiny writes byte-exact', async () => {
      const random = mulberry32(1939);
      const lines = [
        Buffer.from('Subject: =?utf-8?q?dots?=\r\n'),
        Buffer.from('\r\n'),
        Buffer.from('.\r\n'), // a lone dot (stuffed to "..")
        Buffer.from('..\r\n'),
        Buffer.from('.hidden line\r\n'),
        Buffer.from('.\rnot a terminator\r\n'), // dot, CR, then more: data
        Buffer.from('bare \r inside and \x00 NUL\r\n'),
        Buffer.from('Grüße, ½ € — 日本語\r\n', 'utf8'),
        Buffer.from('ends with CR CR\r\r\n'),
        ...Array.from({ length: 20 }, () =>
          Buffer.concat([
            Buffer.from(random() < 0.5 ? '.' : ''),
            Buffer.from(Array.from({ length: 40 }, () => 0x80 + Math.floor(random() * 0x80))),
            Buffer.from('\r\n'),
          ]),
        ),
        Buffer.from('.\r\n'),
      ];
      const body = Buffer.concat(lines);
      const wire = multiLine(body);
      const pieces: Buffer[] = [];
      for (let pos = 0; pos < wire.length;) {
        const size = 1 + Math.floor(random() * 3);
        pieces.push(wire.subarray(pos, pos + size));
        pos += size;
      }
      expect(dotStuff(body).length).toBeGreaterThan(body.length);
      const server = await mailbox({
        messages: ['unused'],
        override: (line) => (line === 'RETR 1' ? pieces : undefined),
      });
      const client = await connect(server);

      const retrieved = await client.retrBuffer(1);

      expect(retrieved.equals(body)).toBe(true);
      await expect(client.stat()).resolves.toEqual({ count: 1, size: 6 });
    });
  });

  describe('STAT, LIST and UIDL parsing', () => {
    it('parses listings leniently: extra spaces and tabs, trailing blanks', async () => {
      const server = await mailbox({
        messages: ['a'],
        override: (line) => {
          if (line === 'STAT') return '+OK  2   460 \r\n';
          if (line === 'LIST') return multiLine('1  120\r\n  2\t340  \r\n');
          if (line === 'UIDL') return multiLine('1   abc-1\r\n2 xyz-2  \r\n');
          return undefined;
        },
      });
      const client = await connect(server);

      await expect(client.stat()).resolves.toEqual({ count: 2, size: 460 });
      await expect(client.list()).resolves.toEqual([
        { messageNumber: 1, size: 120 },
        { messageNumber: 2, size: 340 },
      ]);
      await expect(client.uidl()).resolves.toEqual([
        { messageNumber: 1, uid: 'abc-1' },
        { messageNumber: 2, uid: 'xyz-2' },
      ]);
    });

    it.each(['+OK', '+OK 2', '+OK two 300', '+OK -1 300', '+OK 2 3.5', '+OK 1e3 20', '+OK 0x10 20'])(
      'rejects the malformed STAT reply "%s" with EPROTOCOL and stays usable',
      async (reply) => {
        const server = await mailbox({ override: (line) => (line === 'STAT' ? `${reply}\r\n` : undefined) });
        const client = await connect(server);

        await expect(client.stat()).rejects.toMatchObject({ code: 'EPROTOCOL', command: 'STAT' });
        await expect(client.noop()).resolves.toBeUndefined();
      },
    );

    it.each([
      ['LIST', 'x 100\r\n'],
      ['LIST', '1 -5\r\n'],
      ['LIST', '1 1e3\r\n'],
      ['UIDL', '0 uid\r\n'],
    ])('rejects a malformed %s line (%j) with EPROTOCOL', async (verb, body) => {
      const server = await mailbox({ override: (line) => (line === verb ? multiLine(body) : undefined) });
      const client = await connect(server);

      await expect(verb === 'LIST' ? client.list() : client.uidl()).rejects.toMatchObject({
        code: 'EPROTOCOL',
      });
      await expect(client.noop()).resolves.toBeUndefined();
    });
  });
});

/** A small seeded PRNG, so the chunking is random-looking but the same on every run. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
