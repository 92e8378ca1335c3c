import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Context, SQSBatchResponse, SQSRecord } from 'aws-lambda';
import type { BatchJob, PollJob } from '../../../functions/handlers/contract';
import { startAwsStub, type AwsStub } from '../../support/aws-stub';
import { DovecotServer } from '../../support/dovecot';
import { CapturedOutput, lambdaContext, sqsRecord } from '../../support/lambda-harness';
import { makeMessage, sha256 } from '../../support/poll-fixtures';
import { describeWithDovecot } from '../../support/with-dovecot';
import {
  emptyBatchCalls,
  mailBatchCalls,
  messageEventCalls,
  messageEventCallsRange,
  type MailBatch,
} from '../../support/worker-calls';

/**
 * The worker Lambda handler in-process, with the real SDK v3 clients talking to the local AWS stub
 * and a real Dovecot over implicit TLS (its private CA trusted through EXTRA_CA_PEM): the AWS calls
 * of each kind of batch, counted exactly, and what the function leaves in its logs and metrics.
 */

type Handler = (event: { Records: SQSRecord[] }, context: Context) => Promise<SQSBatchResponse>;

const USERS = {
  empty1: 'empty1-Pa55-shared',
  empty2: 'empty2-Pa55-shared',
  empty3: 'empty3-Pa55-own',
  mail1: 'mail1-Pa55-shared',
  mail2: 'mail2-Pa55-shared',
  rotate: 'rotate-Pa55-before',
} as const;
type User = keyof typeof USERS;
/** Not the same length as the old one: Dovecot re-reads its passwd-file on a change of mtime (s) or size. */
const ROTATED_PASSWORD = 'rotate-Pa55-after-rotation';
const ALL_PASSWORDS = [...Object.values(USERS), ROTATED_PASSWORD];

const BUCKET = 'archive-bucket';
const PREFIX = 'mail/';
const BUS = 'pop3-bus';
const TABLE = 'registry';

describeWithDovecot('worker handler (in-process, AWS stub, Dovecot over TLS)', () => {
  let dovecot: DovecotServer;
  let aws: AwsStub;
  let handler: Handler;
  let output: CapturedOutput | undefined;
  let captured = '';
  const savedEnv = { ...process.env };

  beforeAll(async () => {
    dovecot = await DovecotServer.start({
      users: Object.entries(USERS).map(([name, password]) => ({ name, password })),
    });
    aws = await startAwsStub({ tables: { [TABLE]: { hashKey: 'id' } } });
    Object.assign(process.env, aws.env(), {
      ARCHIVE_BUCKET: BUCKET,
      ARCHIVE_PREFIX: PREFIX,
      EVENT_BUS_NAME: BUS,
      JOB_QUEUE_URL: aws.sqs.queueUrl('jobs.fifo'),
      REGISTRY_TABLE: TABLE,
      EXTRA_CA_PEM: dovecot.certs.caPem,
      SECRET_CACHE_SECONDS: '300',
      SUMMARY_EVENTS: 'changes',
      POWERTOOLS_SERVICE_NAME: 'pop3-poller-worker',
      POWERTOOLS_METRICS_NAMESPACE: 'Pop3PollerTest',
    });
    // The module creates its clients and reads its settings when first loaded and used: load it only
    // now that the environment points at the stub (tsconfig.jest.json makes this a require()).
    ({ handler } = await import('../../../functions/handlers/worker.js'));
  });

  afterAll(async () => {
    process.env = savedEnv;
    await aws?.close();
    await dovecot?.stop();
  });

  beforeEach(() => {
    captured = '';
    aws.resetCalls();
  });

  afterEach(() => {
    output?.restore();
    output = undefined;
    // Whatever the test did, no password may have reached the logs or the metrics.
    for (const password of ALL_PASSWORDS) expect(captured).not.toContain(password);
  });

  /** Runs the handler with stdout/stderr captured; returns its answer and the captured output. */
  async function invoke(records: SQSRecord[], context = lambdaContext()) {
    output = new CapturedOutput();
    try {
      const result = await handler({ Records: records }, context);
      return { result, out: output };
    } finally {
      output.restore();
      captured += output.text;
    }
  }

  function job(user: User, secretId: string, extra: Partial<PollJob> = {}): PollJob {
    return {
      accountId: user,
      secretId,
      host: '127.0.0.1',
      port: dovecot.tlsPort,
      tls: 'implicit',
      username: user,
      mode: 'delete',
      // What the dispatcher attaches from the registry: a recent, healthy last poll.
      last: { status: 'ok', at: new Date().toISOString() },
      ...extra,
    };
  }

  const batch = (shard: number, mailboxes: PollJob[]): string =>
    JSON.stringify({ v: 2, shard, mailboxes } satisfies BatchJob);

  function batchPolledLines(out: CapturedOutput) {
    return out.logs().filter((l) => l.message === 'Batch polled');
  }

  test('an empty batch reads each distinct secret once (a shared secret once for all of its mailboxes), and nothing else; warm, it makes no call at all', async () => {
    aws.secrets.put(
      'pop3/shared-0001',
      JSON.stringify({
        mailboxes: { empty1: { password: USERS.empty1 }, empty2: { password: USERS.empty2 } },
      }),
    );
    aws.secrets.put('pop3/empty3', JSON.stringify({ password: USERS.empty3 }));
    const body = batch(1, [
      job('empty1', 'pop3/shared-0001'),
      job('empty2', 'pop3/shared-0001'),
      job('empty3', 'pop3/empty3'),
    ]);

    const cold = await invoke([sqsRecord(body, { groupId: 'shard-1' })]);
    expect(cold.result).toEqual({ batchItemFailures: [] });
    expect(aws.counts()).toEqual(emptyBatchCalls(2));
    expect(aws.counts()).toEqual({ 'SecretsManager.GetSecretValue': 2 });
    const [line, ...more] = batchPolledLines(cold.out);
    expect(more).toEqual([]);
    expect(line).toMatchObject({ level: 'INFO', mailboxes: 3, ok: 3, failed: 0, archived: 0, summaries: 0 });
    expect(line).toMatchObject({ lastPollWrites: 0, followUps: 0 });
    // An empty, healthy mailbox costs no log line of its own.
    expect(cold.out.logs()).toHaveLength(1);

    // Within SECRET_CACHE_SECONDS, a warm environment reads no secret again.
    aws.resetCalls();
    const warm = await invoke([sqsRecord(body, { groupId: 'shard-1' })]);
    expect(warm.result).toEqual({ batchItemFailures: [] });
    expect(aws.counts()).toEqual(emptyBatchCalls(0));
    expect(aws.counts()).toEqual({});
    expect(batchPolledLines(warm.out)).toHaveLength(1);
    expect(aws.s3.keys(BUCKET)).toEqual([]);
    expect(aws.events.entries()).toEqual([]);
  });

  test('a batch with mail archives every message byte-exact, publishes its events, records the last polls, then deletes the mail', async () => {
    aws.secrets.put(
      'pop3/shared-0002',
      JSON.stringify({ mailboxes: { mail1: { password: USERS.mail1 }, mail2: { password: USERS.mail2 } } }),
    );
    for (const id of ['mail1', 'mail2'])
      aws.dynamodb.putItem(TABLE, { id: { S: id }, record: { S: JSON.stringify({ username: id }) } });
    const delivered: Record<'mail1' | 'mail2', Buffer[]> = {
      mail1: [1, 2, 3].map((n) => makeMessage(n, { batch: 'mail1', bodyBytes: n * 20_000 })),
      mail2: [1, 2].map((n) => makeMessage(n, { batch: 'mail2', bodyBytes: 3_000 })),
    };
    dovecot.deliver(delivered.mail1, 'mail1');
    dovecot.deliver(delivered.mail2, 'mail2');
    const messageId = 'job-with-mail';

    const { result, out } = await invoke([
      sqsRecord(batch(2, [job('mail1', 'pop3/shared-0002'), job('mail2', 'pop3/shared-0002')]), {
        messageId,
        groupId: 'shard-2',
      }),
    ]);
    expect(result).toEqual({ batchItemFailures: [] });

    // Archived byte-exact: each object is the delivered file (Dovecot serves it as stored, CRLF).
    const expectedKeys = Object.entries(delivered)
      .flatMap(([id, messages]) => messages.map((m) => `${PREFIX}${id}/${sha256(m)}.eml`))
      .sort();
    expect(aws.s3.keys(BUCKET)).toEqual(expectedKeys);
    for (const key of expectedKeys) {
      const hash = /\/([0-9a-f]{64})\.eml$/.exec(key)![1];
      expect(sha256(aws.s3.object(BUCKET, key)!)).toBe(hash);
      expect(aws.s3.info(BUCKET, key)?.contentType).toBe('message/rfc822');
    }
    // Deleted from the server only after all that.
    expect(dovecot.mailboxCount('mail1')).toBe(0);
    expect(dovecot.mailboxCount('mail2')).toBe(0);

    const events = aws.events.entries(BUS);
    expect(events.filter((e) => e.detailType === 'Message Archived')).toHaveLength(5);
    expect(events.filter((e) => e.detailType === 'Poll Completed')).toHaveLength(2);

    // Observed: { GetSecretValue: 1, PutObject: 5, PutEvents: 7, UpdateItem: 2 } — one read of the
    // shared secret, one conditional PUT per message, a PutEvents per "Message Archived" event (the
    // messages are archived one after another; see worker-calls.ts) and per mailbox's summary, and
    // one lastPoll write per mailbox. Every figure is exact but the events' grouping, which timing decides.
    const shape: MailBatch = { secretsRead: 1, messagesPerMailbox: [3, 2] };
    const counts = aws.counts();
    const eventCalls = messageEventCalls(counts, shape);
    const [fewest, most] = messageEventCallsRange(shape);
    expect(eventCalls).toBeGreaterThanOrEqual(fewest);
    expect(eventCalls).toBeLessThanOrEqual(most);
    expect(counts).toEqual(mailBatchCalls(shape, eventCalls));

    for (const id of ['mail1', 'mail2'] as const) {
      const item = aws.dynamodb.item(TABLE, { id: { S: id } });
      const lastPoll = JSON.parse(item?.lastPoll?.S as string);
      expect(lastPoll).toMatchObject({ status: 'ok', archived: delivered[id].length });
      expect(lastPoll.lastArchivedAt).toBe(lastPoll.at);
      expect(item?.record).toEqual({ S: JSON.stringify({ username: id }) }); // untouched
    }

    const bytes = [...delivered.mail1, ...delivered.mail2].reduce((n, m) => n + m.length, 0);
    const [line, ...more] = batchPolledLines(out);
    expect(more).toEqual([]);
    expect(line).toMatchObject({
      level: 'INFO',
      messageId,
      shard: 2,
      mailboxes: 2,
      ok: 2,
      failed: 0,
      archived: 5,
      bytes,
      backlog: 0,
      summaries: 2,
      lastPollWrites: 2,
    });
    expect(out.logs().filter((l) => l.message === 'Mail archived')).toEqual([
      expect.objectContaining({ accountId: expect.any(String), archived: expect.any(Number) }),
      expect.objectContaining({ accountId: expect.any(String), archived: expect.any(Number) }),
    ]);
    const [emf, ...moreEmf] = out.metrics();
    expect(moreEmf).toEqual([]);
    expect(emf).toMatchObject({
      service: 'pop3-poller-worker',
      Polls: 2,
      PollErrors: 0,
      NeedsAttention: 0,
      MessagesArchived: 5,
      BytesArchived: bytes,
      Backlog: 0,
    });
    expect(emf!._aws.CloudWatchMetrics[0]).toMatchObject({
      Namespace: 'Pop3PollerTest',
      Dimensions: [['service']],
    });
  });

  test('EAUTH after a warm read: a secret changed together with the server password is read afresh once, and the login succeeds', async () => {
    const secretId = 'pop3/rotate';
    aws.secrets.put(secretId, JSON.stringify({ password: USERS.rotate }));
    const body = batch(3, [job('rotate', secretId)]);
    const first = await invoke([sqsRecord(body, { groupId: 'shard-3' })]);
    expect(first.result).toEqual({ batchItemFailures: [] });
    expect(aws.counts()).toEqual(emptyBatchCalls(1)); // the warm read

    // The operator rotates the password: on the server and in the secret.
    await setDovecotPassword(dovecot, 'rotate', ROTATED_PASSWORD);
    aws.secrets.put(secretId, JSON.stringify({ password: ROTATED_PASSWORD }));
    const message = makeMessage(1, { batch: 'rotate' });
    dovecot.deliver([message], 'rotate');
    aws.resetCalls();

    const second = await invoke([sqsRecord(body, { groupId: 'shard-3' })]);
    expect(second.result).toEqual({ batchItemFailures: [] });
    // One fresh GetSecretValue (not a wait for the cache's TTL), then the login and the archive.
    const counts = aws.counts();
    expect(counts['SecretsManager.GetSecretValue']).toBe(1);
    expect(counts).toEqual(mailBatchCalls({ secretsRead: 1, messagesPerMailbox: [1] }, 1));
    expect(aws.s3.object(BUCKET, `${PREFIX}rotate/${sha256(message)}.eml`)).toEqual(message);
    expect(dovecot.mailboxCount('rotate')).toBe(0);
    expect(second.out.logs().find((l) => l.message === 'Mail archived')).toMatchObject({
      accountId: 'rotate',
      refreshedSecret: true,
      archived: 1,
    });
    expect(batchPolledLines(second.out)[0]).toMatchObject({ ok: 1, failed: 0 });
    expect(second.out.logs().filter((l) => l.level !== 'INFO')).toEqual([]);
  });

  test('the hard stop fires a quarter of the deadline margin after the deadline, well before the invocation ends', async () => {
    const pollBatchModule = await import('../../../functions/handlers/poll-batch.js');
    const spy = jest
      .spyOn(pollBatchModule, 'pollBatch')
      .mockResolvedValueOnce({ mailboxes: [], lastPollFailures: 0, durationMs: 0 });
    try {
      const remainingMs = 120_000;
      // The invocation ends remainingMs after the context is made: between these two bounds
      // (Date.now() may tick while it is made).
      const earliestEnd = Date.now() + remainingMs;
      const context = lambdaContext(remainingMs);
      const latestEnd = Date.now() + remainingMs;
      await invoke([sqsRecord(batch(5, [job('empty3', 'pop3/empty3')]), { groupId: 'shard-5' })], context);
      const run = spy.mock.calls[0]![1];
      // DEADLINE_MARGIN_SECONDS defaults to 30: no new message after end - 30 s; the hard stop
      // 7.5 s later; the abort signal (the backstop) at end - 15 s.
      expect(run.hardStopGraceMs).toBe(7500);
      expect(latestEnd - run.deadline.getTime()).toBeGreaterThanOrEqual(30_000);
      expect(earliestEnd - run.deadline.getTime()).toBeLessThan(30_000 + 1000);
      expect(latestEnd - (run.deadline.getTime() + run.hardStopGraceMs!)).toBeGreaterThanOrEqual(22_500);
      expect(run.signal.aborted).toBe(false);
    } finally {
      spy.mockRestore();
    }
  });

  test('a malformed body is dropped and logged; an unexpected failure returns its message to SQS, retried after a backoff', async () => {
    const queueUrl = aws.sqs.queueUrl('jobs.fifo');
    const pollBatchModule = await import('../../../functions/handlers/poll-batch.js');
    // A job that throws where nothing should (a bug): the message goes back to the queue.
    const spy = jest.spyOn(pollBatchModule, 'pollBatch').mockRejectedValueOnce(new Error('unexpected bug'));
    try {
      // The failing job is received from the stub's queue, so its receipt handle is real.
      aws.sqs.operations.SendMessage!({
        QueueUrl: queueUrl,
        MessageBody: batch(4, [job('empty3', 'pop3/empty3')]),
        MessageGroupId: 'shard-4',
        MessageDeduplicationId: 'failing-job',
      });
      const received = aws.sqs.operations.ReceiveMessage!({
        QueueUrl: queueUrl,
        MaxNumberOfMessages: 1,
        VisibilityTimeout: 900,
        AttributeNames: ['All'],
      }) as { Messages: Array<{ MessageId: string; ReceiptHandle: string; Body: string }> };
      const m = received.Messages[0]!;
      const failing: SQSRecord = {
        ...sqsRecord(m.Body, { messageId: m.MessageId, groupId: 'shard-4', receiveCount: 1 }),
        receiptHandle: m.ReceiptHandle,
      };
      const notJson = sqsRecord('{"v":2,"shard":0,', { messageId: 'not-json' });
      const badJob = sqsRecord(JSON.stringify({ v: 2, shard: 0, mailboxes: [] }), { messageId: 'bad-job' });

      const before = Date.now();
      const { result, out } = await invoke([notJson, badJob, failing]);
      expect(result).toEqual({ batchItemFailures: [{ itemIdentifier: m.MessageId }] });

      const logs = out.logs();
      expect(logs.filter((l) => l.message === 'Malformed poll job dropped')).toEqual([
        expect.objectContaining({
          level: 'ERROR',
          messageId: 'not-json',
          problem: 'the message body is not JSON',
          needsAttention: true,
        }),
        expect.objectContaining({
          level: 'ERROR',
          messageId: 'bad-job',
          problem: 'job.mailboxes must not be empty',
          needsAttention: true,
        }),
      ]);
      expect(logs.find((l) => l.message === 'Poll job failed unexpectedly')).toMatchObject({
        level: 'ERROR',
        messageId: m.MessageId,
        needsAttention: true,
      });
      // Malformed jobs make no call; the failed one raises its visibility (30 s on the first receive).
      expect(aws.counts()).toEqual({ 'SQS.ChangeMessageVisibility': 1 });
      const [inQueue] = aws.sqs.messages(queueUrl);
      expect(inQueue?.messageId).toBe(m.MessageId);
      expect(inQueue!.visibleAt - before).toBeGreaterThanOrEqual(30_000);
      expect(inQueue!.visibleAt - Date.now()).toBeLessThanOrEqual(30_000);
      // Each malformed job counts as a poll error needing attention.
      expect(out.metrics().filter((r) => r.NeedsAttention === 1 && r.PollErrors === 1)).toHaveLength(2);
    } finally {
      spy.mockRestore();
    }
  });
});

/**
 * Changes a user's password in the server's passwd-file. Dovecot looks at the file again when its
 * mtime or size changed, but at most once per second of its clock: the change is only seen by a
 * login in a later second than the last lookup, so this returns once the next second has begun.
 */
async function setDovecotPassword(server: DovecotServer, user: string, password: string): Promise<void> {
  const file = join(server.root, 'users.passwd');
  const lines = readFileSync(file, 'utf8').split('\n');
  const i = lines.findIndex((line) => line.startsWith(`${user}:`));
  if (i < 0) throw new Error(`no user ${user} in ${file}`);
  lines[i] = lines[i]!.replace(/^([^:]*):\{PLAIN\}[^:]*:/, `$1:{PLAIN}${password}:`);
  writeFileSync(file, lines.join('\n'));
  await new Promise((resolve) => setTimeout(resolve, 1050 - (Date.now() % 1000)));
}
