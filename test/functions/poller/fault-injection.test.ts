import { createHash } from 'node:crypto';
import { Pop3Client, type Pop3ClientOptions, type TraceEvent } from '../../../functions/pop3';
import {
  normaliseUidl,
  pollAccount,
  type AccountConfig,
  type AccountResult,
  type ArchiveItem,
  type ArchiveStore,
  type MessageArchivedDetail,
  type StoredObject,
} from '../../../functions/poller';
import { DovecotServer } from '../../support/dovecot';
import { MemoryArchive, MemoryEventSink, StaticCredentials } from '../../support/memory-ports';
import { startTcpProxy, type ProxyChunk, type TcpProxy } from '../../support/tcp-proxy';
import { describeWithDovecot } from '../../support/with-dovecot';

/**
 * Connection cuts at every stage of a real session. A byte-counting proxy between the poller and
 * Dovecot (implicit TLS end to end through it) closes the connection after exactly K bytes, for K
 * spread over a whole clean session: TLS handshake, greeting, CAPA, AUTH, LIST/UIDL, RETRs, DELEs,
 * QUIT and the close after it. After each cut the mailbox is polled again until it is empty, and
 * throughout:
 *
 *   1. every message ends up archived byte-exact;
 *   2. no message leaves the server before it is stored and its event published: whatever is
 *      missing from the Maildir was, at the moment the poller sent QUIT, in the archive and in the
 *      event sink (and each DELE was sent only after both);
 *   3. no archive key is ever written with different bytes;
 *   4. a message fetched again gets the same event id (deduplicating by id leaves one per message).
 */

const PASSWORD = 'alice-secret';
const ACCOUNT_ID = 'fault';
const MAX_ROUNDS = 5;
const TIMEOUTS = { connectMs: 2000, greetingMs: 2000, idleMs: 2000 };

const sha256 = (bytes: Buffer | string) => createHash('sha256').update(bytes).digest('hex');

/** A poll that neither finishes nor fails within 10 s is hung (a clean one takes ~0.1 s). */
async function hangGuard<T>(work: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const hung = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: pollAccount did not return within 10 s`)), 10_000);
  });
  try {
    return await Promise.race([work, hung]);
  } finally {
    clearTimeout(timer);
  }
}

/** Twenty distinct CRLF messages: small, dot-stuffing traps, 8-bit, long lines, one ~300 KB. */
function makeMessages(): Buffer[] {
  const head = (i: number, subject: string, extra = '') =>
    `From: Sender ${i} <sender${i}@example.org>\r\nTo: alice@example.net\r\n` +
    `Subject: ${subject}\r\nDate: Mon, 1 Jan 2024 00:${String(i).padStart(2, '0')}:00 +0000\r\n` +
    `Message-ID: <fault.${i}@example.org>\r\n${extra}\r\n`;
  const text = (s: string) => Buffer.from(s, 'latin1');
  const messages: Buffer[] = [];
  // Small plain messages.
  for (let i = 0; i < 5; i++) messages.push(text(head(i, `small ${i}`) + `Hello number ${i}.\r\n`));
  // Dot-stuffing: lines that are or begin with dots, a body that looks like the terminator, and a
  // message whose last line is a lone dot.
  messages.push(text(head(5, 'dots 1') + '.\r\n..\r\n...\r\n.hidden\r\n. \r\nend\r\n'));
  messages.push(text(head(6, 'dots 2') + 'before\r\n.\r\nafter\r\n\r\n.\r\n\r\n'));
  messages.push(text(head(7, 'dots 3') + 'last line is a dot\r\n.\r\n'));
  messages.push(
    text(head(8, 'dots 4') + Array.from({ length: 200 }, (_, j) => `.${j}`).join('\r\n') + '\r\n'),
  );
  // 8-bit: raw UTF-8, Latin-1 and invalid UTF-8 in headers and body (no NUL, no bare CR/LF).
  messages.push(
    Buffer.concat([
      text(head(9, 'raw 8-bit', 'Content-Type: text/plain; charset=utf-8\r\n')),
      Buffer.from('Grüße aus Zürich — naïve café, €100, 日本語\r\n', 'utf8'),
    ]),
  );
  const allHigh = Buffer.from(Array.from({ length: 128 }, (_, j) => 0x80 + j));
  messages.push(
    Buffer.concat([text(head(10, 'latin1 \xe9t\xe9')), allHigh, text('\r\n'), allHigh, text('\r\n')]),
  );
  messages.push(Buffer.concat([text(head(11, 'invalid utf-8')), Buffer.from([0xc3, 0x28, 0xa0, 0xa1, 0xff, 0xfe, 0x0d, 0x0a])])); // prettier-ignore
  // Headers only, and an empty body.
  messages.push(text(head(12, 'no body')));
  messages.push(text(head(13, 'long line') + 'x'.repeat(6000) + '\r\n.' + 'y'.repeat(3000) + '\r\n'));
  // Medium messages.
  for (let i = 14; i < 19; i++) {
    const lines = Array.from(
      { length: 150 * (i - 12) },
      (_, j) => `line ${j} of message ${i}: ${'abcdefgh'.repeat(6)}`,
    );
    messages.push(text(head(i, `medium ${i}`) + lines.join('\r\n') + '\r\n'));
  }
  // One large message, base64-like lines with some dot lines among them.
  const large: string[] = [];
  let seed = 1;
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
  for (let j = 0; j < 3950; j++) {
    let line = '';
    for (let c = 0; c < 76; c++) {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      line += alphabet[seed % 64];
    }
    large.push(j % 500 === 0 ? `.${line}` : line);
  }
  messages.push(
    text(head(19, 'large', 'Content-Transfer-Encoding: base64\r\n') + large.join('\r\n') + '\r\n'),
  );
  return messages;
}

/** The archive, instrumented: what was stored (once `put` resolved) and any overwrite. */
class AuditedArchive implements ArchiveStore {
  readonly inner = new MemoryArchive();
  /** SHA-256 of messages whose `put` resolved. */
  readonly stored = new Set<string>();
  readonly shaByUidl = new Map<string, string>();
  private readonly firstSha = new Map<string, string>();

  constructor(private readonly violation: (text: string) => void) {}

  async put(item: ArchiveItem): Promise<StoredObject> {
    const before = this.inner.objects.get(item.key);
    let result: StoredObject;
    try {
      result = await this.inner.put(item);
    } catch (error) {
      if (/different object exists/.test((error as Error).message))
        this.violation(`put of different bytes to existing key ${item.key}`);
      throw error;
    }
    const after = this.inner.objects.get(item.key)!;
    const sha = sha256(after);
    if (before && !before.equals(after)) this.violation(`key ${item.key} overwritten with different bytes`);
    const first = this.firstSha.get(item.key);
    if (first !== undefined && first !== sha) this.violation(`key ${item.key} held ${first}, now ${sha}`);
    this.firstSha.set(item.key, sha);
    if (sha !== item.sha256) this.violation(`key ${item.key}: stored ${sha}, item says ${item.sha256}`);
    this.stored.add(sha);
    if (item.uidl !== undefined) this.shaByUidl.set(item.uidl, sha);
    return result;
  }
}

interface RoundRecord {
  readonly cutAfter: number | undefined;
  readonly status: AccountResult['status'];
  readonly errorCode: string | undefined;
  /** How the failure was classified: a cut is transient, never a problem to alert on. */
  readonly transient: boolean;
  readonly ms: number;
  readonly bytes: number;
  readonly cut: boolean;
  readonly left: number;
}

interface TrialOutcome {
  readonly rounds: RoundRecord[];
  readonly violations: string[];
  readonly archive: AuditedArchive;
  readonly sink: MemoryEventSink;
}

describeWithDovecot('poll workflow under connection cuts at every byte offset (Dovecot, TLS, proxy)', () => {
  let server: DovecotServer;
  let proxy: TcpProxy;
  const originals = makeMessages();
  const originalShas = new Set(originals.map((m) => sha256(m)));
  let baselineBytes = 0;
  let baselineChunks: ProxyChunk[] = [];

  beforeAll(async () => {
    server = await DovecotServer.start();
    proxy = await startTcpProxy({ targetPort: server.tlsPort, recordChunks: true });
  });

  afterAll(async () => {
    await proxy?.close();
    await server?.stop();
  });

  /**
   * Waits until Dovecot is done with every connection made so far, so that whatever a QUIT removes
   * is removed and no session is still moving files from new/ to cur/. Dovecot's login process
   * logs one line per connection (`Login:` or `Disconnected:`; one more for the launcher's
   * readiness probe), and the mail process logs `Disconnected` when a logged-in session ends.
   */
  // Generous: on a loaded machine Dovecot's log process can lag the sessions by seconds.
  //
  // `cutRound`: this round's connection was cut. Dovecot 2.3.19 sometimes never ends a session cut
  // in the middle of a long pipelined RETR sequence: its pop3 process stops watching the client
  // connection (the login process that proxied TLS to it is gone, the socket's peer is closed, and
  // the socket is no longer in the process's epoll set) and idles until its 10-minute timeout. Seen
  // under load, more often since the workflow pipelines more RETRs ahead. Such a session has no
  // client and received no QUIT, so it can remove nothing; once everything else has ended and the
  // log has been quiet for 3 s, its process is stopped (SIGTERM: Dovecot logs "Disconnected:
  // Server shutting down", and nothing is expunged without QUIT) so the next round starts clean.
  async function dovecotSessionsEnded(cutRound = false): Promise<void> {
    const deadline = Date.now() + 15_000;
    let lastLog = '';
    let quietSince = Date.now();
    const stopped = new Set<string>();
    for (;;) {
      const log = server.log();
      const connections = new Set(
        [...log.matchAll(/pop3-login: Info: .*session=<([^>]+)>/g)].map((m) => m[1]),
      );
      const logins = [...log.matchAll(/pop3-login: Info: Login: .*session=<([^>]+)>/g)].map((m) => m[1]);
      const ended = new Set([...log.matchAll(/pop3\([^)]*\)<\d+><([^>]+)>: [A-Za-z]+: Disconnected/g)].map((m) => m[1])); // prettier-ignore
      const allEnded = logins.every((s) => ended.has(s));
      if (connections.size >= proxy.connections.length + 1 && allEnded) return;
      // A proxied connection torn down before its upstream connect completed never reaches Dovecot
      // and is never logged, so the count above can fall short for good. Only logged-in sessions can
      // delete anything: once every proxy connection is closed (no traffic can follow), every login
      // logged has ended and the log has been quiet for a second, nothing more can be removed.
      if (proxy.connections.every((c) => c.closed)) {
        if (log !== lastLog) {
          lastLog = log;
          quietSince = Date.now();
        } else if (allEnded && Date.now() - quietSince > 1000) return;
        else if (!allEnded && cutRound && Date.now() - quietSince > 3000) {
          for (const [, mpid, session] of log.matchAll(
            /pop3-login: Info: Login: .*mpid=(\d+),.*session=<([^>]+)>/g,
          )) {
            if (ended.has(session) || stopped.has(session!)) continue;
            stopped.add(session!);
            try {
              process.kill(Number(mpid), 'SIGTERM');
            } catch {
              // already gone
            }
          }
        }
      }
      if (Date.now() > deadline) throw new Error(`Dovecot sessions still open after 15 s:\n${log}`);
      await new Promise((r) => setTimeout(r, 5));
    }
  }

  /**
   * Resets the mailbox to the original messages, then polls through the proxy until it is empty,
   * with the proxy cutting each round's connection after `cutFor(round)` bytes (undefined: no cut).
   */
  async function trial(cutFor: (round: number) => number | undefined, label: string): Promise<TrialOutcome> {
    server.empty();
    server.deliver(originals);
    const violations: string[] = [];
    const violation = (text: string) => violations.push(`${label}: ${text}`);
    const archive = new AuditedArchive(violation);
    const sink = new MemoryEventSink();
    const published = () =>
      new Set(sink.ofType('Message Archived').map((e) => (e.detail as MessageArchivedDetail).sha256));
    /** Messages that were stored and published when a QUIT went out: the only ones it may remove. */
    const removable = new Set<string>();
    const rounds: RoundRecord[] = [];
    const account: AccountConfig = {
      id: ACCOUNT_ID,
      host: '127.0.0.1',
      port: proxy.port,
      tls: 'implicit',
      username: server.users[0]!.name,
      caPem: server.certs.caPem,
    };

    for (let round = 1; round <= MAX_ROUNDS && server.mailboxCount() > 0; round++) {
      const cutAfter = cutFor(round);
      proxy.setCutAfter(cutAfter);
      const uidlByNumber = new Map<number, string>();
      const onTrace = (event: TraceEvent) => {
        if (event.direction !== 'client') return;
        const dele = /^DELE (\d+)$/.exec(event.line);
        if (dele) {
          const uidl = uidlByNumber.get(Number(dele[1]));
          const sha = uidl === undefined ? undefined : archive.shaByUidl.get(uidl);
          if (sha === undefined || !archive.stored.has(sha) || !published().has(sha))
            violation(
              `round ${round}: ${event.line} sent before message (uidl ${uidl}) was stored and published`,
            );
        }
        if (/^QUIT/.test(event.line)) {
          const events = published();
          for (const sha of archive.stored) if (events.has(sha)) removable.add(sha);
        }
      };
      const connect = async (options: Pop3ClientOptions): Promise<Pop3Client> => {
        const client = await Pop3Client.connect({ ...options, onTrace });
        const uidl = client.uidl.bind(client);
        client.uidl = async () => {
          const entries = await uidl();
          for (const e of entries) uidlByNumber.set(e.messageNumber, normaliseUidl(e.uid));
          return entries;
        };
        return client;
      };
      const connectionsBefore = proxy.connections.length;
      const started = Date.now();
      const credentials = new StaticCredentials({ [ACCOUNT_ID]: { password: PASSWORD } });
      const result = await hangGuard(
        pollAccount(
          account,
          { credentials, archive, events: sink, connect },
          { runId: `${label}-r${round}`, timeouts: TIMEOUTS },
        ),
        `${label}, round ${round}`,
      );
      const ms = Date.now() - started;
      await proxy.idle();
      await dovecotSessionsEnded(cutAfter !== undefined);

      // Invariant 2: what is gone from the server was stored and published before QUIT was sent.
      const onServer = new Set(server.mailboxFiles().map((m) => sha256(m)));
      const events = published();
      for (const sha of originalShas) {
        if (onServer.has(sha)) continue;
        if (!removable.has(sha))
          violation(`round ${round}: message ${sha.slice(0, 12)} removed from the server but was not stored+published at QUIT`); // prettier-ignore
        if (!archive.stored.has(sha) || !events.has(sha))
          violation(`round ${round}: message ${sha.slice(0, 12)} removed, stored=${archive.stored.has(sha)} published=${events.has(sha)}`); // prettier-ignore
      }
      for (const sha of onServer)
        if (!originalShas.has(sha)) violation(`unexpected message ${sha} on the server`);

      const connections = proxy.connections.slice(connectionsBefore);
      rounds.push({
        cutAfter,
        status: result.status,
        errorCode: result.error?.code,
        transient: result.error === undefined || (result.error.retryable && !result.error.needsAttention),
        ms,
        bytes: connections.reduce((n, c) => n + c.clientToServer + c.serverToClient, 0),
        cut: connections.some((c) => c.cut),
        left: onServer.size,
      });
    }
    if (server.mailboxCount() > 0) violation(`mailbox not drained after ${MAX_ROUNDS} rounds`);

    // Invariant 1: everything archived, byte-exact, nothing else.
    const archived = archive.inner.contents();
    const expected = [...originals].sort(Buffer.compare);
    if (archived.length !== expected.length || archived.some((b, i) => !b.equals(expected[i]!)))
      violation(
        `archive holds ${archived.length} objects that are not the ${expected.length} originals byte-exact`,
      );

    // Invariant 4: one event id per message, and a re-fetch reuses it.
    const archivedEvents = sink.ofType('Message Archived');
    const shaById = new Map<string, string>();
    const idsBySha = new Map<string, Set<string>>();
    for (const e of archivedEvents) {
      const sha = (e.detail as MessageArchivedDetail).sha256;
      if (shaById.has(e.id) && shaById.get(e.id) !== sha) violation(`event id ${e.id} used for two messages`);
      shaById.set(e.id, sha);
      idsBySha.set(sha, (idsBySha.get(sha) ?? new Set()).add(e.id));
    }
    if (shaById.size !== originals.length)
      violation(`${shaById.size} distinct event ids for ${originals.length} messages`);
    for (const [sha, ids] of idsBySha)
      if (ids.size !== 1) violation(`message ${sha.slice(0, 12)} has ${ids.size} event ids`);
    for (const sha of originalShas) if (!idsBySha.has(sha)) violation(`no event for ${sha.slice(0, 12)}`);

    return { rounds, violations, archive, sink };
  }

  it('drains the mailbox in one clean session through the proxy (and measures it)', async () => {
    const outcome = await trial(() => undefined, 'clean');
    expect(outcome.violations).toEqual([]);
    expect(outcome.rounds).toHaveLength(1);
    expect(outcome.rounds[0]).toMatchObject({ status: 'ok', cut: false, left: 0 });
    const connection = proxy.connections[proxy.connections.length - 1]!;
    baselineBytes = connection.clientToServer + connection.serverToClient;
    baselineChunks = connection.chunks!;
    expect(baselineBytes).toBe(outcome.rounds[0]!.bytes);
    expect(baselineBytes).toBeGreaterThan(originals.reduce((n, m) => n + m.length, 0));
  });

  it('never loses, overwrites or re-announces a message whatever byte the connection is cut at', async () => {
    expect(baselineBytes).toBeGreaterThan(0);
    const B = baselineBytes;
    const ks = new Set<number>();
    // Every chunk boundary of the first and last exchanges (TLS handshake, greeting, CAPA, AUTH,
    // LIST/UIDL; last DELEs, QUIT, its reply, TLS close), at the boundary and one byte past it.
    const starts = baselineChunks.map((c) => c.offset).filter((o) => o > 0);
    for (const o of [...starts.slice(0, 14), ...starts.slice(-8)]) {
      ks.add(o);
      ks.add(o + 1);
    }
    ks.add(1);
    ks.add(B - 1);
    // Evenly spread over the whole session.
    for (let j = 1; j <= 30; j++) ks.add(Math.round((B * j) / 31));
    const values = [...ks].filter((k) => k > 0 && k < B).sort((a, b) => a - b);
    expect(values.length).toBeGreaterThanOrEqual(50);

    const violations: string[] = [];
    const summary: string[] = [];
    const started = Date.now();
    for (const k of values) {
      // Round 1 is cut at K; round 2 half a session later; then uncut until the mailbox is empty.
      const outcome = await trial((round) => (round === 1 ? k : round === 2 ? k + Math.floor(B / 2) : undefined), `K=${k}`); // prettier-ignore
      violations.push(...outcome.violations);
      const first = outcome.rounds[0]!;
      // The cut must show up at once (an EOF), not as a timeout, and as a transient failure.
      if (first.cut && first.ms >= TIMEOUTS.idleMs)
        violations.push(`K=${k}: cut connection took ${first.ms} ms to fail (${first.errorCode})`);
      for (const r of outcome.rounds)
        if (!r.transient) violations.push(`K=${k}: a cut reported as ${r.errorCode}, not retryable or needing attention`); // prettier-ignore
      summary.push(
        `K=${k}: ` +
          outcome.rounds
            .map(
              (r) =>
                `${r.cut ? 'cut' : 'full'}@${r.bytes} ${r.status}${r.errorCode ? `/${r.errorCode}` : ''} ${r.ms}ms left=${r.left}`,
            ) // prettier-ignore
            .join(' | '),
      );
    }
    if (process.env.FAULT_INJECTION_VERBOSE)
      process.stdout.write(
        `B=${B}, ${values.length} cuts in ${Date.now() - started} ms\n` +
          `chunks: ${baselineChunks.map((c) => `${c.direction === 'client-to-server' ? '>' : '<'}${c.offset}+${c.length}`).join(' ')}\n` + // prettier-ignore
          `${summary.join('\n')}\n`,
      );
    expect(violations).toEqual([]);
  }, 120_000);
});
