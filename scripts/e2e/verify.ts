import { createHash } from 'node:crypto';
import {
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  type HeadObjectCommandOutput,
  type S3Client,
} from '@aws-sdk/client-s3';
import {
  DeleteMessageBatchCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { normaliseUidl } from '../../functions/poller/archive-key';

/**
 * What the end-to-end run checks once the job is sent: the "Message Archived" events that reach
 * the example rule's sample queue, the `.eml` objects in the archive bucket, and that each object
 * is the message its event describes (S3's own SHA-256 checksum, the `sha256` metadata, the size,
 * and the SHA-256 of the bytes read back all equal the event's).
 */

const SHA256_HEX = /^[0-9a-f]{64}$/;

/** The fields of a "Message Archived" event's detail the checks use (functions/poller/events.ts). */
export interface ArchivedEvent {
  readonly eventId: string;
  readonly accountId: string;
  readonly uidl: string | null;
  readonly sha256: string;
  readonly size: number;
  readonly key: string;
  readonly location: string;
}

export interface Check {
  readonly name: string;
  readonly ok: boolean;
  readonly detail: string;
}

export interface ArchiveObject {
  readonly key: string;
  readonly size: number;
}

export interface Clock {
  now(): number;
  sleep(ms: number): Promise<void>;
}

export const realClock: Clock = {
  now: () => Date.now(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};

type Parsed = { readonly event: ArchivedEvent } | { readonly problem: string };

/** An SQS message body from the sample queue: an EventBridge event as a rule's target receives it. */
export function parseArchivedEvent(body: string | undefined): Parsed {
  let json: unknown;
  try {
    json = JSON.parse(body ?? '');
  } catch {
    return { problem: 'the message body is not JSON' };
  }
  if (typeof json !== 'object' || json === null) return { problem: 'the message body is not an object' };
  const envelope = json as Record<string, unknown>;
  if (envelope['detail-type'] !== 'Message Archived') {
    return { problem: `detail-type is ${JSON.stringify(envelope['detail-type'])}, not "Message Archived"` };
  }
  if (envelope.source !== 'pop3-poller') {
    return { problem: `source is ${JSON.stringify(envelope.source)}, not "pop3-poller"` };
  }
  const d = envelope.detail as Record<string, unknown> | undefined;
  if (typeof d !== 'object' || d === null) return { problem: 'the event has no detail' };
  const wrong: string[] = [];
  const str = (k: string): string => {
    const v = d[k];
    if (typeof v === 'string' && v !== '') return v;
    wrong.push(k);
    return '';
  };
  const eventId = str('eventId');
  const accountId = str('accountId');
  const key = str('key');
  const location = str('location');
  const sha256 = str('sha256');
  if (sha256 !== '' && !SHA256_HEX.test(sha256)) wrong.push('sha256');
  const size = d.size;
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) wrong.push('size');
  const uidl = d.uidl;
  if (uidl !== null && typeof uidl !== 'string') wrong.push('uidl');
  if (wrong.length > 0) return { problem: `detail field(s) missing or malformed: ${wrong.join(', ')}` };
  return {
    event: { eventId, accountId, uidl: uidl as string | null, sha256, size: size as number, key, location },
  };
}

export interface DrainResult {
  readonly events: ArchivedEvent[];
  /** Why each message that was not a usable "Message Archived" event was set aside. */
  readonly ignored: string[];
}

/**
 * Receives what the sample queue holds (deleting each message once read, so none comes back) until
 * a receive returns nothing. The first receive waits up to `waitSeconds` for a message to arrive.
 */
export async function drainSampleQueue(
  sqs: SQSClient,
  queueUrl: string,
  waitSeconds: number,
): Promise<DrainResult> {
  const events: ArchivedEvent[] = [];
  const ignored: string[] = [];
  for (let round = 0; round < 100; round++) {
    const out = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: queueUrl,
        MaxNumberOfMessages: 10,
        WaitTimeSeconds: round === 0 ? waitSeconds : Math.min(waitSeconds, 1),
        VisibilityTimeout: 60,
      }),
    );
    const messages = out.Messages ?? [];
    if (messages.length === 0) break;
    for (const message of messages) {
      const parsed = parseArchivedEvent(message.Body);
      if ('event' in parsed) events.push(parsed.event);
      else ignored.push(parsed.problem);
    }
    const handles = messages.filter((m) => m.ReceiptHandle !== undefined);
    if (handles.length > 0) {
      await sqs.send(
        new DeleteMessageBatchCommand({
          QueueUrl: queueUrl,
          Entries: handles.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle! })),
        }),
      );
    }
  }
  return { events, ignored };
}

/** The `.eml` objects under `prefix`, every page. */
export async function listArchiveObjects(
  s3: S3Client,
  bucket: string,
  prefix: string,
): Promise<ArchiveObject[]> {
  const objects: ArchiveObject[] = [];
  let token: string | undefined;
  do {
    const page = await s3.send(
      new ListObjectsV2Command({
        Bucket: bucket,
        Prefix: prefix,
        ...(token ? { ContinuationToken: token } : {}),
      }),
    );
    for (const o of page.Contents ?? []) {
      if (o.Key?.endsWith('.eml')) objects.push({ key: o.Key, size: o.Size ?? 0 });
    }
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return objects;
}

/** Messages in a queue, visible or in flight. */
export async function queueDepth(sqs: SQSClient, queueUrl: string): Promise<number> {
  const out = await sqs.send(
    new GetQueueAttributesCommand({
      QueueUrl: queueUrl,
      AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
    }),
  );
  const a = out.Attributes ?? {};
  return Number(a.ApproximateNumberOfMessages ?? 0) + Number(a.ApproximateNumberOfMessagesNotVisible ?? 0);
}

export interface WaitInput {
  readonly s3: S3Client;
  readonly sqs: SQSClient;
  readonly bucket: string;
  /** `<archive prefix><account id>/`. */
  readonly objectPrefix: string;
  readonly sampleQueueUrl: string;
  /** Checked on every round: a job there will not be archived. */
  readonly deadLetterQueueUrl?: string;
  readonly expectedMessages: number;
  readonly timeoutMs: number;
  /** Long-poll wait of each receive. @default 10 */
  readonly receiveWaitSeconds?: number;
  /** Pause between rounds. @default 5000 */
  readonly pollIntervalMs?: number;
  readonly clock?: Clock;
  readonly signal?: AbortSignal;
  readonly log?: (line: string) => void;
}

export interface WaitResult {
  readonly outcome: 'complete' | 'timeout' | 'dead-letter' | 'aborted';
  /** Distinct by event id (SQS and EventBridge deliver at least once). */
  readonly events: ArchivedEvent[];
  readonly objects: ArchiveObject[];
  readonly ignored: string[];
  readonly elapsedMs: number;
}

/**
 * Waits until the sample queue has delivered `expectedMessages` distinct "Message Archived" events
 * and the archive holds an object for each distinct SHA-256 among them (identical messages share
 * one object), or the timeout passes, or a job lands in the dead-letter queue. A last receive after
 * that catches events beyond the expected number, which the checks then report.
 */
export async function waitForArchive(input: WaitInput): Promise<WaitResult> {
  const clock = input.clock ?? realClock;
  const wait = input.receiveWaitSeconds ?? 10;
  const interval = input.pollIntervalMs ?? 5000;
  const started = clock.now();
  const events = new Map<string, ArchivedEvent>();
  const ignored: string[] = [];
  let objects: ArchiveObject[] = [];
  const drain = async (seconds: number) => {
    const got = await drainSampleQueue(input.sqs, input.sampleQueueUrl, seconds);
    for (const event of got.events) if (!events.has(event.eventId)) events.set(event.eventId, event);
    ignored.push(...got.ignored);
  };
  const result = (outcome: WaitResult['outcome']): WaitResult => ({
    outcome,
    events: [...events.values()],
    objects,
    ignored,
    elapsedMs: clock.now() - started,
  });
  let lastReport = '';
  for (;;) {
    if (input.signal?.aborted) return result('aborted');
    await drain(wait);
    objects = await listArchiveObjects(input.s3, input.bucket, input.objectPrefix);
    const distinct = new Set([...events.values()].map((e) => e.sha256)).size;
    const report = `${events.size}/${input.expectedMessages} events, ${objects.length} objects`;
    if (report !== lastReport) input.log?.(`  ${report} (${Math.round((clock.now() - started) / 1000)} s)`);
    lastReport = report;
    if (events.size >= input.expectedMessages && objects.length >= distinct) {
      await drain(Math.min(wait, 5));
      objects = await listArchiveObjects(input.s3, input.bucket, input.objectPrefix);
      return result('complete');
    }
    if (input.deadLetterQueueUrl && (await queueDepth(input.sqs, input.deadLetterQueueUrl)) > 0) {
      return result('dead-letter');
    }
    if (clock.now() - started >= input.timeoutMs) return result('timeout');
    await clock.sleep(interval);
  }
}

export interface VerifyInput {
  readonly s3: S3Client;
  readonly bucket: string;
  readonly prefix: string;
  readonly accountId: string;
  readonly events: readonly ArchivedEvent[];
  readonly objects: readonly ArchiveObject[];
  readonly expectedMessages: number;
  /**
   * The UIDLs the server listed before the run (`UIDL` entries, raw), when it supports UIDL: the
   * events must name exactly these (normalised as the worker does; a UIDL the server gave twice
   * is `null` in events).
   */
  readonly uidlsBefore?: ReadonlyArray<{ readonly messageNumber: number; readonly uid: string }>;
  /** Messages on the sample queue that were not usable "Message Archived" events, and why. */
  readonly ignored?: readonly string[];
  /** Read every object back and hash it. @default true */
  readonly readBodies?: boolean;
}

/** Every check on the archive and the events; none throws for a mismatch, each says what differs. */
export async function verifyArchive(input: VerifyInput): Promise<Check[]> {
  const { bucket, prefix, accountId, events } = input;
  const checks: Check[] = [];
  const add = (name: string, problems: readonly string[], okDetail: string) =>
    checks.push({
      name,
      ok: problems.length === 0,
      detail: problems.length === 0 ? okDetail : summarise(problems),
    });

  add(
    'events',
    events.length === input.expectedMessages
      ? []
      : [`${events.length} distinct "Message Archived" events, expected ${input.expectedMessages}`],
    `${events.length} distinct "Message Archived" events on the sample queue`,
  );

  add(
    'event shape',
    (input.ignored ?? []).map((why) => `a message on the sample queue was set aside: ${why}`),
    'every message on the sample queue is a well-formed "Message Archived" event',
  );

  const fieldProblems: string[] = [];
  for (const e of events) {
    const expectedKey = `${accountId}/${e.sha256}.eml`;
    if (e.accountId !== accountId) fieldProblems.push(`event ${e.eventId}: accountId "${e.accountId}"`);
    if (e.key !== expectedKey)
      fieldProblems.push(`event ${e.eventId}: key "${e.key}", expected "${expectedKey}"`);
    const location = `s3://${bucket}/${prefix}${e.key}`;
    if (e.location !== location) {
      fieldProblems.push(`event ${e.eventId}: location "${e.location}", expected "${location}"`);
    }
  }
  add('event fields', fieldProblems, 'accountId, key and location of every event match the archive layout');

  if (input.uidlsBefore !== undefined) {
    const expected = expectedEventUidls(input.uidlsBefore);
    const got = events.map((e) => e.uidl);
    const missing = difference(expected, got);
    const extra = difference(got, expected);
    add(
      'UIDLs',
      [
        ...missing.map((u) => `no event for UIDL ${JSON.stringify(u)}`),
        ...extra.map((u) => `event for UIDL ${JSON.stringify(u)}, not listed before the run`),
      ],
      `the events name the ${expected.length} UIDLs the server listed before the run`,
    );
  }

  const byKey = new Map<string, ArchivedEvent>();
  for (const e of events) byKey.set(`${prefix}${e.key}`, e);
  const stored = new Set(input.objects.map((o) => o.key));
  add(
    'objects',
    [
      ...[...byKey.keys()].filter((k) => !stored.has(k)).map((k) => `missing object ${k}`),
      ...[...stored].filter((k) => !byKey.has(k)).map((k) => `object ${k} has no event`),
    ],
    `${stored.size} .eml objects under ${prefix}${accountId}/, one per distinct message`,
  );

  const objectProblems: string[] = [];
  let verified = 0;
  for (const [key, event] of byKey) {
    if (!stored.has(key)) continue;
    const problems = await checkObject(input.s3, bucket, key, event, input.readBodies ?? true);
    objectProblems.push(...problems.map((p) => `${key}: ${p}`));
    if (problems.length === 0) verified++;
  }
  add(
    'object integrity',
    objectProblems,
    `${verified} objects: S3 ChecksumSHA256, metadata sha256, size${input.readBodies === false ? '' : ' and the bytes read back'} match their events`,
  );
  return checks;
}

/** What differs between one stored object and its event. */
async function checkObject(
  s3: S3Client,
  bucket: string,
  key: string,
  event: ArchivedEvent,
  readBody: boolean,
): Promise<string[]> {
  const problems: string[] = [];
  let head: HeadObjectCommandOutput;
  try {
    head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key, ChecksumMode: 'ENABLED' }));
  } catch (error) {
    return [`HeadObject failed: ${(error as Error).name}`];
  }
  const checksum = head.ChecksumSHA256;
  const composite = head.ChecksumType === 'COMPOSITE' || /-\d+$/.test(checksum ?? '');
  if (!checksum) problems.push('no ChecksumSHA256');
  else if (!composite) {
    const hex = Buffer.from(checksum, 'base64').toString('hex');
    if (hex !== event.sha256) problems.push(`ChecksumSHA256 is ${hex}, the event says ${event.sha256}`);
  }
  // A multipart object's checksum is of its parts; its metadata and the bytes read back still count.
  const metadata = head.Metadata ?? {};
  if (metadata.sha256 !== event.sha256) {
    problems.push(`metadata sha256 is ${JSON.stringify(metadata.sha256)}, the event says ${event.sha256}`);
  }
  if (metadata['account-id'] !== event.accountId) {
    problems.push(`metadata account-id is ${JSON.stringify(metadata['account-id'])}`);
  }
  if (head.ContentLength !== event.size) {
    problems.push(`size is ${head.ContentLength}, the event says ${event.size}`);
  }
  if (head.ContentType !== 'message/rfc822')
    problems.push(`Content-Type is ${JSON.stringify(head.ContentType)}`);
  if (head.ServerSideEncryption !== 'aws:kms') {
    problems.push(`encryption is ${JSON.stringify(head.ServerSideEncryption)}, not aws:kms`);
  }
  if (readBody) {
    try {
      const object = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      const bytes = await object.Body!.transformToByteArray();
      const sha256 = createHash('sha256').update(bytes).digest('hex');
      if (sha256 !== event.sha256)
        problems.push(`its bytes hash to ${sha256}, the event says ${event.sha256}`);
      if (bytes.length !== event.size)
        problems.push(`${bytes.length} bytes read back, the event says ${event.size}`);
    } catch (error) {
      problems.push(`GetObject failed: ${(error as Error).name}`);
    }
  }
  return problems;
}

/** The `uidl` of each event the worker should publish for these UIDL entries (poll-account.ts). */
export function expectedEventUidls(
  entries: ReadonlyArray<{ readonly messageNumber: number; readonly uid: string }>,
): (string | null)[] {
  const count = new Map<string, number>();
  for (const e of entries) count.set(e.uid, (count.get(e.uid) ?? 0) + 1);
  return entries.map((e) => (e.uid !== '' && count.get(e.uid) === 1 ? normaliseUidl(e.uid) : null));
}

/** `a` minus `b`, as multisets. */
function difference<T>(a: readonly T[], b: readonly T[]): T[] {
  const rest = [...b];
  const out: T[] = [];
  for (const x of a) {
    const i = rest.indexOf(x);
    if (i >= 0) rest.splice(i, 1);
    else out.push(x);
  }
  return out;
}

/** Problems listed per check; the rest are counted. */
const SHOWN_PROBLEMS = 10;

function summarise(problems: readonly string[]): string {
  const shown = problems.slice(0, SHOWN_PROBLEMS).join('; ');
  return problems.length > SHOWN_PROBLEMS
    ? `${shown}; … and ${problems.length - SHOWN_PROBLEMS} more`
    : shown;
}

/** The mailbox after the run: delete mode leaves nothing behind. */
export function mailboxCheck(countAfter: number): Check {
  return {
    name: 'mailbox emptied',
    ok: countAfter === 0,
    detail:
      countAfter === 0
        ? 'STAT reports 0 messages after the run (each was deleted once archived and published)'
        : `STAT reports ${countAfter} message(s) still on the server`,
  };
}
