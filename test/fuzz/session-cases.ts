import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { DirectoryArchiveStore } from '../../functions/adapters/directory-archive-store';
import { ERROR_CODES } from '../../functions/pop3/errors';
import { archiveKey } from '../../functions/poller/archive-key';
import { POLL_ERROR_CODES } from '../../functions/poller/errors';
import type { MessageArchivedDetail, PollEvent } from '../../functions/poller/events';
import type { AccountResult } from '../../functions/poller/poll-account';
import { pollAccounts } from '../../functions/poller/poll-accounts';
import {
  startHostileMailbox,
  type Fault,
  type HostileMailbox,
  type HostileVerb,
} from '../support/hostile-pop3-server';
import { MemoryEventSink, StaticCredentials } from '../support/memory-ports';
import type { DecoderEvent } from '../support/recording-sink';
import { applyMutation, bytes, mutation, referenceDecode, type Mutation } from './wire';

/**
 * The whole-session half of the fuzz suite: the real poll workflow (`pollAccounts`, a
 * DirectoryArchiveStore in a temp dir, an in-memory event sink, short timeouts) against a hostile
 * mailbox (test/support/hostile-pop3-server.ts) drawn by fast-check.
 *
 * Invariants, per session:
 * - the poll ends within its timeouts plus slack (`boundMs`), and whatever the server does, within
 *   its deadline plus the hard stop's grace plus slack (SESSION_DEADLINE_MS, SESSION_GRACE_MS);
 * - no uncaught exception or unhandled rejection (checked by the runner, run.ts / sessions.test.ts);
 * - a DELE reaches the server only for a message whose bytes, as the server sent them in this
 *   session, are archived and whose "Message Archived" event is published (checked as it arrives);
 * - every archived object is exactly the body of a RETR reply the server sent (by RFC 1939
 *   framing, replies matched to commands in order); when the server's bytes were not mutated,
 *   exactly one of its messages;
 * - every failure carries a catalogued code and a message; no password appears in a result or event.
 */

export const PASSWORD = 'pw-Fuzz-3f9c-secret';
export const SECRETS = [PASSWORD, Buffer.from(PASSWORD).toString('base64')];
export const ACCOUNT = 'fuzz';
export const TIMEOUTS = { connectMs: 1000, greetingMs: 500, idleMs: 400 };
/**
 * Every session's deadline and hard-stop grace (functions/poller/hard-stop.ts): no reply, however
 * endless or slow, holds a poll past their sum. A healthy case takes ~0.1 s; one that waits for a
 * timeout, about one idle period.
 */
export const SESSION_DEADLINE_MS = 2000;
export const SESSION_GRACE_MS = 1000;
/** What a shared two-core machine under load adds to a poll's bound. */
const SLACK_MS = 3000;
/** The client's decoder limits for these sessions (Pop3ClientOptions defaults; maxMessageBytes below). */
const MAX_MESSAGE_BYTES = 256 * 1024;
const DECODER_LIMITS = {
  maxLineLength: 512,
  maxBodyBytes: 64 * 1024 * 1024,
  maxDiscardBytes: 64 * 1024 * 1024,
};
const KNOWN_CODES = new Set([...Object.keys(ERROR_CODES), ...Object.keys(POLL_ERROR_CODES)]);

export type FaultSpec =
  | {
      readonly kind: 'close';
      readonly verb: HostileVerb;
      readonly nth: number;
      readonly at?: number;
      readonly atByte?: number;
    }
  | { readonly kind: 'silent'; readonly verb: HostileVerb; readonly nth: number }
  | { readonly kind: 'drip'; readonly verb: HostileVerb; readonly nth: number }
  | { readonly kind: 'endless'; readonly verb: HostileVerb; readonly nth: number }
  /** An endless multi-line reply, trickled just above the idle watchdog's rate (not drawn). */
  | { readonly kind: 'trickle'; readonly verb: HostileVerb; readonly nth: number }
  | {
      readonly kind: 'mutate';
      readonly verb: HostileVerb;
      readonly nth: number;
      readonly mutations: readonly Mutation[];
    };

export interface SessionCase {
  readonly messages: readonly Buffer[];
  readonly uidls: 'unique' | 'duplicate' | 'missing' | 'empty' | 'odd';
  readonly list: 'truth' | 'lying sizes' | 'missing' | 'extra' | 'duplicate' | 'zero';
  readonly extraUidl: boolean;
  readonly pipelining: boolean;
  readonly expireZero: boolean;
  readonly greeting: 'plain' | 'apop' | 'garbage' | 'err' | 'odd apop' | 'no space' | 'empty';
  /** `PLAIN`: the server offers SASL PLAIN and the account asks for it. */
  readonly authMethod: 'USER' | 'auto' | 'PLAIN';
  readonly faults: readonly FaultSpec[];
}

// -------------------------------------------------------------------------------------------------
// Drawing cases

const messageLine = fc.oneof(
  fc.constantFrom(
    'Hello.',
    '.',
    '..',
    '.leading dot',
    '. ',
    '',
    'From nobody',
    '\xe9t\xe9 \xff\x80',
    '\x00nul',
    'a\rb',
  ),
  fc.string({ maxLength: 60 }),
);

const message: fc.Arbitrary<Buffer> = fc
  .tuple(
    fc.nat({ max: 9999 }),
    fc.array(fc.tuple(messageLine, fc.constantFrom('\r\n', '\r\n', '\r\n', '\n')), { maxLength: 12 }),
    fc.oneof(
      { weight: 12, arbitrary: fc.constant(0) },
      { weight: 1, arbitrary: fc.integer({ min: 2000, max: 300_000 }) },
    ),
  )
  .map(([id, lines, filler]) =>
    bytes(
      `Subject: fuzz ${id}\r\nMessage-ID: <${id}@fuzz.test>\r\n\r\n`,
      ...lines.flatMap(([line, eol]) => [line, eol]),
      filler > 0 ? `${'y'.repeat(70)}\r\n`.repeat(Math.ceil(filler / 72)) : '',
    ),
  );

const verbAndNth = (messageCount: number): fc.Arbitrary<{ verb: HostileVerb; nth: number }> =>
  fc.oneof(
    { weight: 2, arbitrary: fc.constant({ verb: 'greeting' as const, nth: 0 }) },
    { weight: 2, arbitrary: fc.nat({ max: 1 }).map((nth) => ({ verb: 'CAPA' as const, nth })) },
    {
      weight: 1,
      arbitrary: fc
        .constantFrom('USER' as const, 'PASS' as const, 'AUTH' as const)
        .map((verb) => ({ verb, nth: 0 })),
    },
    {
      weight: 3,
      arbitrary: fc.constantFrom('LIST' as const, 'UIDL' as const).map((verb) => ({ verb, nth: 0 })),
    },
    {
      weight: 6,
      arbitrary: fc
        .nat({ max: Math.max(0, messageCount - 1) })
        .map((nth) => ({ verb: 'RETR' as const, nth })),
    },
    {
      weight: 3,
      arbitrary: fc
        .nat({ max: Math.max(0, messageCount - 1) })
        .map((nth) => ({ verb: 'DELE' as const, nth })),
    },
    { weight: 2, arbitrary: fc.constant({ verb: 'QUIT' as const, nth: 0 }) },
  );

/** Mutations of a reply, the password echoed back among them. */
const replyMutations: fc.Arbitrary<Mutation[]> = fc.array(
  fc.oneof(
    { weight: 5, arbitrary: mutation },
    {
      weight: 1,
      arbitrary: fc.record({
        kind: fc.constant('insert' as const),
        at: fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true }),
        data: fc
          .constantFrom(
            `PASS ${PASSWORD}\r\n`,
            `-ERR ${PASSWORD}\r\n`,
            `+OK ${PASSWORD}\r\n`,
            `${PASSWORD}`,
            `*${SECRETS[1]}\r\n`,
          )
          .map((s) => Buffer.from(s)),
      }),
    },
  ),
  { minLength: 1, maxLength: 3 },
);

const faultSpec = (messageCount: number): fc.Arbitrary<FaultSpec> =>
  verbAndNth(messageCount).chain(({ verb, nth }) =>
    fc.oneof(
      {
        weight: 4,
        arbitrary: fc
          .double({ min: 0, max: 1, noNaN: true })
          .map((at) => ({ kind: 'close' as const, verb, nth, at })),
      },
      { weight: 1, arbitrary: fc.constant({ kind: 'silent' as const, verb, nth }) },
      { weight: 1, arbitrary: fc.constant({ kind: 'drip' as const, verb, nth }) },
      { weight: 1, arbitrary: fc.constant({ kind: 'endless' as const, verb, nth }) },
      {
        weight: 4,
        arbitrary: replyMutations.map((mutations) => ({ kind: 'mutate' as const, verb, nth, mutations })),
      },
    ),
  );

export const sessionCase: fc.Arbitrary<SessionCase> = fc
  .array(message, { minLength: 0, maxLength: 6 })
  .chain((messages) =>
    fc.record({
      messages: fc.constant(messages),
      uidls: fc.constantFrom(
        'unique',
        'unique',
        'unique',
        'duplicate',
        'missing',
        'empty',
        'odd',
      ) as fc.Arbitrary<SessionCase['uidls']>,
      list: fc.constantFrom(
        'truth',
        'truth',
        'truth',
        'lying sizes',
        'missing',
        'extra',
        'duplicate',
        'zero',
      ) as fc.Arbitrary<SessionCase['list']>,
      extraUidl: fc.boolean(),
      pipelining: fc.boolean(),
      expireZero: fc.oneof(
        { weight: 5, arbitrary: fc.constant(false) },
        { weight: 1, arbitrary: fc.constant(true) },
      ),
      greeting: fc.constantFrom(
        'plain',
        'plain',
        'plain',
        'apop',
        'garbage',
        'err',
        'odd apop',
        'no space',
        'empty',
      ) as fc.Arbitrary<SessionCase['greeting']>,
      authMethod: fc.constantFrom('USER' as const, 'auto' as const, 'PLAIN' as const),
      faults: fc.array(faultSpec(messages.length), { maxLength: 2 }),
    }),
  );

/**
 * A close at every byte of every reply of a small session: two messages with dot lines, each
 * reply cut after 0, 1, … octets (`stride` apart), pipelined and not. Cuts past a reply's end
 * close the connection right after it.
 */
/** A well-behaved server (unique UIDLs, truthful LIST, pipelining, USER/PASS) with these faults. */
export function plainCase(
  messages: readonly Buffer[],
  faults: readonly FaultSpec[] = [],
  overrides: Partial<SessionCase> = {},
): SessionCase {
  return {
    messages,
    uidls: 'unique',
    list: 'truth',
    extraUidl: false,
    pipelining: true,
    expireZero: false,
    greeting: 'plain',
    authMethod: 'USER',
    faults,
    ...overrides,
  };
}

export function closeAtEveryByte(stride = 1): SessionCase[] {
  const messages = [bytes('Subject: a\r\n\r\n.\r\n..x\r\n'), bytes('Subject: b\r\n\r\nline\r\n')];
  // Longest reply of each verb in this session, in octets (a little over).
  const longest: Array<[HostileVerb, number, number]> = [
    ['greeting', 0, 26],
    ['CAPA', 0, 46],
    ['USER', 0, 5],
    ['PASS', 0, 16],
    ['CAPA', 1, 60],
    ['LIST', 0, 22],
    ['UIDL', 0, 26],
    ['RETR', 0, 38],
    ['RETR', 1, 34],
    ['DELE', 0, 14],
    ['DELE', 1, 14],
    ['QUIT', 0, 9],
  ];
  const cases: SessionCase[] = [];
  for (const pipelining of [true, false]) {
    for (const [verb, nth, length] of longest) {
      for (let atByte = 0; atByte <= length; atByte += stride) {
        cases.push(plainCase(messages, [{ kind: 'close', verb, nth, atByte }], { pipelining }));
      }
    }
  }
  return cases;
}

// -------------------------------------------------------------------------------------------------
// Building the mailbox

function uidlsFor(c: SessionCase): Array<string | undefined> {
  return c.messages.map((_, i) => {
    switch (c.uidls) {
      case 'unique':
        return `uid-${i + 1}`;
      case 'duplicate':
        return i % 2 === 0 ? 'dup' : `uid-${i + 1}`;
      case 'missing':
        return i === 0 ? undefined : `uid-${i + 1}`;
      case 'empty':
        return i === 0 ? '' : `uid-${i + 1}`;
      case 'odd':
        return `\xff\x01 ${i}%`;
    }
  });
}

function listLinesFor(c: SessionCase): string[] {
  const truth = c.messages.map((m, i) => `${i + 1} ${m.length}`);
  switch (c.list) {
    case 'truth':
      return truth;
    case 'lying sizes':
      return c.messages.map((m, i) => `${i + 1} ${i % 2 ? 1 : m.length * 100 + 7}`);
    case 'missing':
      return truth.slice(1);
    case 'extra':
      return [...truth, `${c.messages.length + 1} 100`, `${c.messages.length + 7} 5`];
    case 'duplicate':
      return [...truth, ...truth.slice(0, 1)];
    case 'zero':
      return c.messages.map((_, i) => `${i + 1} 0`);
  }
}

function greetingFor(c: SessionCase): { greeting: Buffer; apopTimestamp?: string } {
  switch (c.greeting) {
    case 'plain':
      return { greeting: bytes('+OK hostile POP3 ready\r\n') };
    case 'apop':
      return {
        greeting: bytes('+OK ready <1896.697170952@fuzz.test>\r\n'),
        apopTimestamp: '<1896.697170952@fuzz.test>',
      };
    case 'odd apop':
      return { greeting: bytes('+OK ready <> <\x00\xff@x> <a b@c>\r\n') };
    case 'garbage':
      return { greeting: bytes('\x00\xff\xfeHELLO\r\n') };
    case 'err':
      return { greeting: bytes(`-ERR [SYS/TEMP] go away ${PASSWORD}\r\n`) };
    case 'no space':
      return { greeting: bytes('+OKready\r\n') };
    case 'empty':
      return { greeting: bytes('\r\n') };
  }
}

function toFault(spec: FaultSpec): Fault {
  switch (spec.kind) {
    case 'close':
    case 'silent':
    case 'endless':
      return spec;
    case 'trickle':
      // 1100 octets three times per idle period: above MIN_PROGRESS_OCTETS (1 KiB) in every period.
      return { ...spec, octets: 1100, everyMs: Math.floor(TIMEOUTS.idleMs / 3) };
    case 'drip':
      return { ...spec, delayMs: 100 };
    case 'mutate':
      return {
        kind: 'mutate',
        verb: spec.verb,
        nth: spec.nth,
        label: spec.mutations.map((m) => m.kind).join('+'),
        mutate: (wire) => spec.mutations.reduce(applyMutation, wire),
      };
  }
}

// -------------------------------------------------------------------------------------------------
// Running one case and checking it

export const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

export interface SessionOutcome {
  readonly violations: string[];
  readonly elapsedMs: number;
  readonly results: readonly AccountResult[];
}

/** How long a poll of this case may take: its timeouts, a cut drip, and slack for a loaded machine. */
export function boundMs(c: SessionCase): number {
  const drips = c.faults.filter((f) => f.kind === 'drip').length;
  // One timeout at most ends a session (it is fatal); the rest is slack for a shared two-core
  // machine under load, where a poll of a healthy server has been seen to take 3.5 s. The hard
  // stop ends any session at the deadline plus its grace, whatever the server does.
  return Math.min(
    SLACK_MS + 3000 + drips * (2 * TIMEOUTS.idleMs + 500),
    SESSION_DEADLINE_MS + SESSION_GRACE_MS + SLACK_MS,
  );
}

/** Groups reference events into replies (status, then its data and end). */
function repliesOf(events: readonly DecoderEvent[]) {
  const replies: Array<{ ok: boolean; body: Buffer; ended: boolean; overflowed: boolean }> = [];
  for (const event of events) {
    if (event.type === 'status')
      replies.push({ ok: event.line.kind === 'ok', body: Buffer.alloc(0), ended: false, overflowed: false });
    else if (event.type === 'data')
      replies[replies.length - 1]!.body = Buffer.concat([
        replies[replies.length - 1]!.body,
        Buffer.from(event.bytes, 'latin1'),
      ]);
    else if (event.type === 'end') replies[replies.length - 1]!.ended = true;
    else replies[replies.length - 1]!.overflowed = true;
  }
  return replies;
}

/** The bodies of the RETR replies on a connection, as the wire frames them: command index → body. */
function retrBodies(mailbox: HostileMailbox, connection: number): Map<number, { n: number; body: Buffer }> {
  const script = mailbox.script(connection);
  const commands = mailbox.commands(connection);
  const replies = repliesOf(referenceDecode(mailbox.written(connection), script, DECODER_LIMITS).events);
  const out = new Map<number, { n: number; body: Buffer }>();
  commands.forEach((line, i) => {
    const [verb = '', arg] = line.split(' ');
    const reply = replies[i + 1];
    if (verb.toUpperCase() !== 'RETR' || !reply || !reply.ok || !reply.ended || reply.overflowed) return;
    out.set(i, { n: Number(arg), body: reply.body });
  });
  return out;
}

/** The hostile mailbox a case describes; `onDele` is told of each DELE as it arrives. */
export function startCaseMailbox(
  c: SessionCase,
  onDele: (dele: { connection: number; messageNumber: number }) => void,
): Promise<HostileMailbox> {
  const { greeting, apopTimestamp } = greetingFor(c);
  return startHostileMailbox({
    messages: c.messages,
    uidls: uidlsFor(c),
    listLines: listLinesFor(c),
    ...(c.extraUidl ? { extraUidlLines: [`${c.messages.length + 3} ghost`, '1 again'] } : {}),
    capabilities: [...(c.pipelining ? ['PIPELINING'] : []), ...(c.expireZero ? ['EXPIRE 0'] : [])],
    password: PASSWORD,
    greeting,
    ...(apopTimestamp ? { apopTimestamp } : {}),
    faults: c.faults.map(toFault),
    saslPlain: c.authMethod === 'PLAIN',
    onDele,
  });
}

/** The body of the last complete RETR of `messageNumber` on a connection, as the wire framed it. */
export function lastRetrBody(
  mailbox: HostileMailbox,
  connection: number,
  messageNumber: number,
): Buffer | undefined {
  const bodies = [...retrBodies(mailbox, connection).values()].filter((r) => r.n === messageNumber);
  return bodies[bodies.length - 1]?.body;
}

/** Every complete RETR body the server sent, on any connection. */
export function sentBodies(mailbox: HostileMailbox): Buffer[] {
  const sent: Buffer[] = [];
  for (let connection = 0; connection < mailbox.connections(); connection++) {
    for (const { body } of retrBodies(mailbox, connection).values()) sent.push(body);
  }
  return sent;
}

/**
 * What is wrong with a DELE arriving now: the message, as the last complete RETR of it on this
 * connection framed it, must be archived and announced (and, unmutated, be the message itself).
 */
export function checkDele(
  c: SessionCase,
  mailbox: HostileMailbox,
  connection: number,
  messageNumber: number,
  is: { archived(body: Buffer): boolean; announced(body: Buffer): boolean },
): string[] {
  const body = lastRetrBody(mailbox, connection, messageNumber);
  if (!body)
    return [`DELE ${messageNumber} on connection ${connection} without a complete RETR ${messageNumber}`];
  const problems: string[] = [];
  if (!is.archived(body)) problems.push(`DELE ${messageNumber} before its bytes were archived`);
  if (!is.announced(body)) problems.push(`DELE ${messageNumber} before its event was published`);
  const mutated = c.faults.some((f) => f.kind === 'mutate');
  if (!mutated && !body.equals(c.messages[messageNumber - 1]!)) {
    problems.push(`DELE ${messageNumber}: the bytes received differ from the message, unmutated`);
  }
  return problems;
}

export async function runSessionCase(
  c: SessionCase,
  tempRoot: string,
  runId: string,
): Promise<SessionOutcome> {
  const violations: string[] = [];
  const dir = mkdtempSync(join(tempRoot, 'case-'));
  const events = new MemoryEventSink();
  const mutated = c.faults.some((f) => f.kind === 'mutate');
  const archived = (body: Buffer) => {
    const file = join(dir, archiveKey(ACCOUNT, sha256(body)));
    return existsSync(file) && readFileSync(file).equals(body);
  };
  const announced = (body: Buffer) =>
    events
      .ofType('Message Archived')
      .some((e) => (e.detail as MessageArchivedDetail).sha256 === sha256(body));

  const mailbox: HostileMailbox = await startCaseMailbox(c, ({ connection, messageNumber }) =>
    violations.push(...checkDele(c, mailbox, connection, messageNumber, { archived, announced })),
  );

  const started = Date.now();
  let results: AccountResult[] = [];
  try {
    const poll = pollAccounts(
      [
        {
          id: ACCOUNT,
          host: '127.0.0.1',
          port: mailbox.port,
          tls: 'none',
          allowPlaintextAuth: true,
          username: 'alice',
          authMethod: c.authMethod,
        },
      ],
      {
        credentials: new StaticCredentials({ [ACCOUNT]: { password: PASSWORD } }),
        archive: new DirectoryArchiveStore({ dir }),
        events,
      },
      {
        runId,
        timeouts: TIMEOUTS,
        maxMessageBytes: MAX_MESSAGE_BYTES,
        storeConcurrency: 4,
        deadline: new Date(started + SESSION_DEADLINE_MS),
        hardStopGraceMs: SESSION_GRACE_MS,
      },
    );
    const limit = boundMs(c);
    let timer: NodeJS.Timeout | undefined;
    const hung = new Promise<'hung'>((resolve) => (timer = setTimeout(() => resolve('hung'), limit + 5000)));
    const outcome = await Promise.race([poll, hung]);
    clearTimeout(timer);
    const elapsedMs = Date.now() - started;
    if (outcome === 'hung') {
      violations.push(`the poll did not end within ${limit + 5000} ms`);
    } else {
      results = outcome;
      if (elapsedMs > limit) violations.push(`the poll took ${elapsedMs} ms, over its bound of ${limit} ms`);
    }
    checkResults(results, violations);
    checkArchive(c, mailbox, dir, events, mutated, violations);
    return { violations, elapsedMs, results };
  } finally {
    await mailbox.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

function checkResults(results: readonly AccountResult[], violations: string[]): void {
  const text = JSON.stringify(results);
  for (const secret of SECRETS)
    if (text.includes(secret)) violations.push('a password appears in the result');
  for (const r of results) {
    for (const report of [...(r.error ? [r.error] : []), ...r.messageErrors]) {
      if (!KNOWN_CODES.has(report.code))
        violations.push(`failure with an uncatalogued code ${report.code}: ${report.message}`);
      if (!report.message || report.message.length < 8)
        violations.push(`failure ${report.code} without a message`);
      if (/\n\s+at /.test(report.message)) violations.push(`failure message carries a stack trace`);
    }
    if (r.status === 'failed' && !r.error) violations.push('a failed result without an error');
  }
}

function checkArchive(
  c: SessionCase,
  mailbox: HostileMailbox,
  dir: string,
  events: MemoryEventSink,
  mutated: boolean,
  violations: string[],
): void {
  // Summary events carry the errors. (A "Message Archived" event carries what the server chose to
  // send, a UIDL or a Subject: a server that sends the password as data is not a leak.)
  const eventsText = JSON.stringify(events.events.filter((e) => e.detailType !== 'Message Archived'));
  for (const secret of SECRETS)
    if (eventsText.includes(secret)) violations.push('a password appears in a summary event');
  const sent = sentBodies(mailbox);
  const accountDir = join(dir, ACCOUNT);
  const files = existsSync(accountDir) ? readdirSync(accountDir).filter((f) => f.endsWith('.eml')) : [];
  for (const file of files) {
    const stored = readFileSync(join(accountDir, file));
    if (`${sha256(stored)}.eml` !== file) violations.push(`archive file ${file} does not hold its hash`);
    if (!sent.some((body) => body.equals(stored)))
      violations.push(`archived ${file} is not the body of any RETR reply sent`);
    if (!mutated && !c.messages.some((m) => m.equals(stored)))
      violations.push(`archived ${file} is not one of the messages`);
  }
  for (const event of events.ofType('Message Archived') as Array<PollEvent<MessageArchivedDetail>>) {
    const file = join(dir, event.detail.key);
    if (!existsSync(file)) violations.push(`event for ${event.detail.key}, which is not archived`);
    else if (sha256(readFileSync(file)) !== event.detail.sha256)
      violations.push(`event for ${event.detail.key} with another hash`);
  }
}

/** A short description of a case, for a failure report. */
export function describeCase(c: SessionCase): string {
  return JSON.stringify({
    ...c,
    messages: c.messages.map((m) => `${m.length} octets`),
    faults: c.faults.map((f) =>
      f.kind === 'mutate'
        ? {
            ...f,
            mutations: f.mutations.map((m) =>
              m.kind === 'insert' ? { ...m, data: m.data.toString('latin1').slice(0, 60) } : m,
            ),
          }
        : f,
    ),
  });
}
