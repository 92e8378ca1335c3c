import { createHash } from 'node:crypto';
import type { AccountConfig } from '../../functions/poller/account';
import { archiveKey } from '../../functions/poller/archive-key';
import type { MessageArchivedDetail, PollEvent } from '../../functions/poller/events';
import type { Clock } from '../../functions/poller/ports';
import type { DovecotServer } from './dovecot';
import type { MemoryArchive, MemoryEventSink } from './memory-ports';

/** Test messages and the checks every poll-workflow test makes. */

export const sha256 = (bytes: Buffer): string => createHash('sha256').update(bytes).digest('hex');

export interface TestMessageOptions {
  /** Approximate body size in octets (default ~1 KB). */
  readonly bodyBytes?: number;
  /** Distinguishes messages of different batches (runs, tests). */
  readonly batch?: string;
}

/**
 * `count` distinct CRLF messages numbered from 1: Subject `Message <n>`, Message-ID
 * `<n.batch@poller.test>`, a body with 8-bit octets and lines starting with dots (which the server
 * dot-stuffs and the client must unstuff), so a byte-exact archive proves the bytes went through
 * untouched.
 */
export function makeMessages(count: number, options: TestMessageOptions = {}): Buffer[] {
  return Array.from({ length: count }, (_, i) => makeMessage(i + 1, options));
}

export function makeMessage(n: number, options: TestMessageOptions = {}): Buffer {
  const batch = options.batch ?? 'b';
  const head = Buffer.from(
    [
      `From: Sender ${n} <sender${n}@example.org>`,
      'To: Alice <alice@example.com>',
      `Subject: Message ${n}`,
      `Message-ID: <${n}.${batch}@poller.test>`,
      'Date: Tue, 04 Mar 2025 10:00:00 +0000',
      `X-Seq: ${n}`,
      'MIME-Version: 1.0',
      'Content-Type: text/plain; charset=iso-8859-1',
      'Content-Transfer-Encoding: 8bit',
      '',
      '',
    ].join('\r\n'),
    'latin1',
  );
  const lines = [
    Buffer.from(`Body of message ${n} (${batch}).\r\n`, 'latin1'),
    Buffer.from('.\r\n..two dots\r\n.leading dot\r\n', 'latin1'),
    Buffer.from([0x38, 0x2d, 0x62, 0x69, 0x74, 0x3a, 0x20, 0xe9, 0xe8, 0xff, 0x80, 0x0d, 0x0a]), // "8-bit: éè\xff\x80"
  ];
  const filler = Math.max(0, (options.bodyBytes ?? 1024) - 64);
  const line = `${'x'.repeat(70)}\r\n`;
  let text = '';
  while (text.length + line.length <= filler) text += line;
  lines.push(Buffer.from(text, 'latin1'), Buffer.from('-- \r\nend\r\n', 'latin1'));
  return Buffer.concat([head, ...lines]);
}

/** An account for the test Dovecot's implicit-TLS port, trusting the run's CA. */
export function dovecotAccount(
  server: DovecotServer,
  id: string,
  overrides: Partial<AccountConfig> = {},
): AccountConfig {
  return {
    id,
    host: server.host,
    port: server.tlsPort,
    tls: 'implicit',
    username: server.users[0]!.name,
    caPem: server.certs.caPem,
    ...overrides,
  };
}

/**
 * An account for a scripted server on 127.0.0.1 (test/support/fake-pop3-server.ts): no TLS, so
 * the password may cross in cleartext, user `alice`.
 */
export function loopbackAccount(
  id: string,
  port: number,
  overrides: Partial<AccountConfig> = {},
): AccountConfig {
  return {
    id,
    host: '127.0.0.1',
    port,
    tls: 'none',
    allowPlaintextAuth: true,
    username: 'alice',
    ...overrides,
  };
}

/** A clock that stands still until told to move. */
export class ManualClock implements Clock {
  private time: number;

  constructor(start: Date | string = '2025-03-04T12:00:00.000Z') {
    this.time = new Date(start).getTime();
  }

  now(): Date {
    return new Date(this.time);
  }

  set(time: Date | string): void {
    this.time = new Date(time).getTime();
  }

  advanceDays(days: number): void {
    this.time += days * 86_400_000;
  }
}

/** What became of one delivered message. */
export interface MessageFate {
  /** 1-based position in the delivered list. */
  readonly n: number;
  readonly onServer: boolean;
  /** The archive holds the message's bytes, exactly, under its key. */
  readonly archived: boolean;
  /** "Message Archived" events published for it (more than one after re-fetches). */
  readonly events: ReadonlyArray<PollEvent<MessageArchivedDetail>>;
}

/** What the checks below read of a server: the messages in a user's mailbox, as delivered. */
export interface MailboxView {
  mailboxFiles(user?: string): Buffer[];
}

export interface PollWorld {
  /** A DovecotServer, or a backend of the core suite (poll-backends.ts). */
  readonly server: MailboxView;
  readonly archive: MemoryArchive;
  readonly events: MemoryEventSink;
  readonly accountId: string;
  /** Dovecot user whose mailbox is checked; default the server's first user. */
  readonly user?: string;
}

export function archivedEvents(events: MemoryEventSink): Array<PollEvent<MessageArchivedDetail>> {
  return events.ofType('Message Archived') as Array<PollEvent<MessageArchivedDetail>>;
}

/** For each delivered message: is it still on the server, archived byte-exact, announced? */
export function fates(world: PollWorld, delivered: readonly Buffer[]): MessageFate[] {
  const mailbox = world.server.mailboxFiles(world.user);
  const announced = archivedEvents(world.events);
  return delivered.map((bytes, i) => {
    const digest = sha256(bytes);
    const key = archiveKey(world.accountId, digest);
    return {
      n: i + 1,
      onServer: mailbox.some((file) => file.equals(bytes)),
      archived: world.archive.objects.get(key)?.equals(bytes) ?? false,
      events: announced.filter((e) => e.detail.accountId === world.accountId && e.detail.sha256 === digest),
    };
  });
}

/** Numbers (1-based) of the delivered messages still on the server. */
export function onServer(world: PollWorld, delivered: readonly Buffer[]): number[] {
  return fates(world, delivered)
    .filter((f) => f.onServer)
    .map((f) => f.n);
}

/** Numbers (1-based) of the delivered messages archived byte-exact. */
export function archivedNumbers(world: PollWorld, delivered: readonly Buffer[]): number[] {
  return fates(world, delivered)
    .filter((f) => f.archived)
    .map((f) => f.n);
}

/**
 * The product's promise, checked after every run: every delivered message is still on the server,
 * or archived byte-exact with its "Message Archived" event published. Also: the server holds only
 * delivered messages, unaltered; the archive holds only delivered messages; every event points at
 * an archived object with the right hash, size and key.
 */
export function expectNothingLost(world: PollWorld, delivered: readonly Buffer[]): void {
  const problems: string[] = [];
  for (const fate of fates(world, delivered)) {
    if (fate.onServer) continue;
    if (!fate.archived) problems.push(`message ${fate.n} is gone from the server but not archived`);
    else if (fate.events.length === 0)
      problems.push(`message ${fate.n} is gone from the server but its event was not published`);
  }
  const known = new Set(delivered.map((m) => sha256(m)));
  for (const file of world.server.mailboxFiles(world.user)) {
    if (!known.has(sha256(file))) problems.push(`the server holds a message that was not delivered`);
  }
  for (const [key, bytes] of world.archive.objects) {
    if (!key.startsWith(`${world.accountId}/`)) continue;
    if (!known.has(sha256(bytes))) problems.push(`archive object ${key} is not a delivered message`);
    if (key !== archiveKey(world.accountId, sha256(bytes)))
      problems.push(`archive object ${key} is not under its content key`);
  }
  for (const event of archivedEvents(world.events)) {
    if (event.detail.accountId !== world.accountId) continue;
    const stored = world.archive.objects.get(event.detail.key);
    if (!stored) problems.push(`event ${event.id} points at ${event.detail.key}, which is not archived`);
    else if (sha256(stored) !== event.detail.sha256 || stored.length !== event.detail.size)
      problems.push(`event ${event.id} does not describe the object at ${event.detail.key}`);
  }
  expect(problems).toEqual([]);
}
