import { performance } from 'node:perf_hooks';
import { Pop3Client } from '../../../functions/pop3/client';
import { capaReply, multiLine } from '../../support/fake-pop3-server';
import { expectPop3Error, fakeClientHarness, PASSWORD, USERNAME } from '../../support/fake-client';

/**
 * Regressions found by the fuzz suite (test/fuzz): hostile replies a well-behaved server never
 * sends. Each test is named after the bug it pins.
 */

jest.setTimeout(10_000);

const b64 = (text: string) => Buffer.from(text, 'utf8').toString('base64');

const { serve, mailbox, optionsFor, connect } = fakeClientHarness({ idleMs: 300 });

/** A reply written one octet at a time, `delayMs` apart. */
const drip = (reply: Buffer, delayMs: number) =>
  [...reply].map((octet) => ({ data: Buffer.from([octet]), delayMs }));

describe('Class: Pop3Client against hostile replies', () => {
  describe('drip-feed', () => {
    it('drip-feed: a LIST dripped one octet per 100 ms is cut with ETIMEDOUT within two idle periods', async () => {
      const list = multiLine(Array.from({ length: 50 }, (_, i) => `${i + 1} 1000\r\n`).join(''));
      const server = await mailbox({ override: (line) => (line === 'LIST' ? drip(list, 100) : undefined) });
      const client = await connect(server);

      const started = performance.now();
      const error = await expectPop3Error(client.list());

      expect(error).toMatchObject({ code: 'ETIMEDOUT', command: 'LIST' });
      expect(error.message).toMatch(/too slow/);
      // Idle timeout 300 ms: the old client waited for all ~700 octets, 70 s.
      expect(performance.now() - started).toBeLessThan(2000);
    });

    it('drip-feed: a server slow but making progress (2 KiB every 200 ms) is not cut', async () => {
      const body = Buffer.alloc(10 * 2048, 0x61);
      for (let i = 1024; i <= body.length; i += 1024) body.write('\r\n', i - 2, 'latin1');
      const reply = multiLine(body);
      const parts: Array<{ data: Buffer; delayMs: number }> = [];
      for (let i = 0; i < reply.length; i += 2048)
        parts.push({ data: reply.subarray(i, i + 2048), delayMs: 200 });
      const server = await mailbox({
        messages: ['x'],
        override: (line) => (line === 'RETR 1' ? parts : undefined),
      });
      const client = await connect(server);

      const got = await client.retrBuffer(1);

      expect(got.equals(body)).toBe(true);
    });

    it('drip-feed: a consumer that holds a large message unread for several idle periods is not cut', async () => {
      const body = Buffer.alloc(2 * 1024 * 1024, 0x62);
      for (let i = 1024; i <= body.length; i += 1024) body.write('\r\n', i - 2, 'latin1');
      const reply = multiLine(body); // built before: stuffing 2 MB in the script outlasts the idle timeout
      const server = await mailbox({
        messages: ['x'],
        override: (line) => (line === 'RETR 1' ? reply : undefined),
      });
      const client = await connect(server);

      const stream = await client.retr(1);
      await new Promise((resolve) => setTimeout(resolve, 1000)); // > 3 idle periods, client paused
      const got = await stream.toBuffer();

      expect(got.equals(body)).toBe(true);
    });
  });

  describe('echoed-password', () => {
    const secrets = [PASSWORD, b64(PASSWORD), PASSWORD.slice(0, 8)];

    it('echoed-password: a reply line that is not a status line, quoting the password, is redacted', async () => {
      const server = await mailbox({
        override: (line) => (line === 'STAT' ? `PASS ${PASSWORD}\r\n` : undefined),
      });
      const client = await connect(server);

      const error = await expectPop3Error(client.stat());

      expect(error.code).toBe('EPROTOCOL');
      expect(error.message).toContain('[redacted]');
      for (const secret of secrets) expect(`${error.message} ${error.response ?? ''}`).not.toContain(secret);
    });

    it('echoed-password: a password cut by the 120-character shortening leaves no prefix', async () => {
      const line = `${'x'.repeat(110)}${PASSWORD}\r\n`;
      const server = await mailbox({ override: (l) => (l === 'STAT' ? line : undefined) });
      const client = await connect(server);

      const error = await expectPop3Error(client.stat());

      for (const secret of secrets) expect(error.message).not.toContain(secret);
    });

    it('echoed-password: a LIST line quoting the password is redacted', async () => {
      const server = await mailbox({
        override: (line) => (line === 'LIST' ? multiLine(`1 100\r\nx ${PASSWORD}\r\n`) : undefined),
      });
      const client = await connect(server);

      const error = await expectPop3Error(client.list());

      expect(error.code).toBe('EPROTOCOL');
      for (const secret of secrets) expect(error.message).not.toContain(secret);
    });

    it('echoed-password: a STAT reply quoting the password is redacted', async () => {
      const server = await mailbox({
        override: (line) => (line === 'STAT' ? `+OK ${b64(PASSWORD)}\r\n` : undefined),
      });
      const client = await connect(server);

      const error = await expectPop3Error(client.stat());

      expect(error.code).toBe('EPROTOCOL');
      for (const secret of secrets) expect(error.message).not.toContain(secret);
    });
  });

  describe('apop-garbage-banner', () => {
    it('apop-garbage-banner: a greeting with `<>` is not taken for APOP; auto logs in with USER', async () => {
      const server = await mailbox({ greeting: '+OK ready <>\r\n' });
      const client = await connect(server, {
        auth: { username: USERNAME, password: PASSWORD, method: 'auto' },
      });

      expect(client.loginMethod).toBe('USER');
      expect(server.received.texts()).not.toContainEqual(expect.stringMatching(/^APOP/));
    });
  });
});

describe('Class: Pop3Client against hostile SASL', () => {
  it('endless-sasl-challenges: a server answering every response with another challenge is cut', async () => {
    let lines = 0;
    const server = await serve({
      handle: (line) => {
        lines += 1;
        return line === 'CAPA' ? capaReply('SASL PLAIN') : '+ \r\n';
      },
    });

    const error = await expectPop3Error(Pop3Client.connect(optionsFor(server)));

    expect(error).toMatchObject({ code: 'EPROTOCOL', command: 'AUTH' });
    expect(error.message).toMatch(/more SASL challenges than PLAIN has steps/);
    // The old client answered ~20,000 challenges a second, for ever.
    expect(lines).toBeLessThan(10);
  });
});
