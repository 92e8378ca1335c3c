import { createHash } from 'node:crypto';
import { PutEventsCommand, EventBridgeClient, type PutEventsRequestEntry } from '@aws-sdk/client-eventbridge';
import {
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
  type PutObjectCommandInput,
} from '@aws-sdk/client-s3';
import {
  GetSecretValueCommand,
  ResourceNotFoundException,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import {
  ChangeMessageVisibilityCommand,
  SendMessageBatchCommand,
  SendMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import type { SQSBatchResponse, SQSRecord } from 'aws-lambda';
import type { PollJob } from '../../../functions/handlers/contract';
import { handler as dispatch } from '../../../functions/handlers/dispatcher';
import { handler as work } from '../../../functions/handlers/worker';
import { DovecotServer, freePorts } from '../../support/dovecot';
import { OAuthTestServer } from '../../support/oauth-server';
import { CapturedOutput, lambdaContext, sqsRecord, type EmfRecord } from '../../support/lambda-harness';
import { makeMessages, sha256 } from '../../support/poll-fixtures';
import { describeWithDovecot } from '../../support/with-dovecot';

/**
 * The worker Lambda invoked in-process against a real Dovecot (implicit TLS, the run's own CA
 * trusted through EXTRA_CA_PEM), with S3, EventBridge, SQS and Secrets Manager mocked at the SDK
 * boundary. S3 is a small in-memory bucket that honours If-None-Match / If-Match, so the
 * keep-mode state really round-trips.
 */

const BUCKET = 'mail-archive';
const BUS = 'mail-events';
const QUEUE_URL = 'https://sqs.eu-west-1.amazonaws.com/111122223333/pop3-jobs.fifo';
const USERS = [
  { name: 'alice', password: 'alice-pw-Zq81!' },
  { name: 'bob', password: 'bob-pw-Lm27?' },
  { name: 'carol', password: 'carol-pw-Xy55#' },
  { name: 'dave', password: 'dave-pw-Kt09$' },
];
const WRONG_PASSWORD = 'not-bobs-password-Qw33%';
const PASSWORDS = [...USERS.map((u) => u.password), WRONG_PASSWORD];

const s3Mock = mockClient(S3Client);
const eventsMock = mockClient(EventBridgeClient);
const sqsMock = mockClient(SQSClient);
const secretsMock = mockClient(SecretsManagerClient);

let server: DovecotServer;
let closedPort: number;
let output: CapturedOutput;
const savedEnv = { ...process.env };

/** Secret id → SecretString. */
const secrets = new Map<string, string>();
/** The bucket: key → bytes and ETag. */
const bucket = new Map<string, { body: Buffer; etag: string }>();
let etags = 0;

function s3Error(name: string, httpStatusCode: number): S3ServiceException {
  return new S3ServiceException({
    name,
    $fault: 'client',
    $metadata: { httpStatusCode },
    message: `${name} (test bucket)`,
  });
}

function installMocks(): void {
  s3Mock.on(PutObjectCommand).callsFake((input: PutObjectCommandInput) => {
    const key = input.Key!;
    const existing = bucket.get(key);
    if (input.IfNoneMatch === '*' && existing) throw s3Error('PreconditionFailed', 412);
    if (input.IfMatch !== undefined && existing?.etag !== input.IfMatch)
      throw s3Error('PreconditionFailed', 412);
    const body = Buffer.from(input.Body as Uint8Array);
    const etag = `"etag-${++etags}"`;
    bucket.set(key, { body, etag });
    return { ETag: etag };
  });
  s3Mock.on(GetObjectCommand).callsFake((input: { Key: string }) => {
    const object = bucket.get(input.Key);
    if (!object) throw s3Error('NoSuchKey', 404);
    return { ETag: object.etag, Body: { transformToString: async () => object.body.toString('utf8') } };
  });
  s3Mock.on(HeadObjectCommand).callsFake((input: { Key: string }) => {
    const object = bucket.get(input.Key);
    if (!object) throw s3Error('NotFound', 404);
    return {
      ETag: object.etag,
      ContentLength: object.body.length,
      ChecksumSHA256: createHash('sha256').update(object.body).digest('base64'),
      ChecksumType: 'FULL_OBJECT',
    };
  });
  let eventIds = 0;
  eventsMock.on(PutEventsCommand).callsFake((input: { Entries: PutEventsRequestEntry[] }) => ({
    FailedEntryCount: 0,
    Entries: input.Entries.map(() => ({ EventId: `event-${++eventIds}` })),
  }));
  secretsMock.on(GetSecretValueCommand).callsFake((input: { SecretId: string }) => {
    const secretString = secrets.get(input.SecretId);
    if (secretString === undefined) {
      throw new ResourceNotFoundException({ $metadata: { httpStatusCode: 400 }, message: 'not found' });
    }
    return { Name: input.SecretId, SecretString: secretString };
  });
  sqsMock.on(SendMessageCommand).resolves({ MessageId: 'follow-up-id' });
  sqsMock.on(ChangeMessageVisibilityCommand).resolves({});
}

/** The Secrets Manager secret for a Dovecot user: connection settings and the password. */
function secretFor(user: string, password: string, port = server.tlsPort): string {
  return JSON.stringify({ host: server.host, port, tls: 'implicit', username: user, password });
}

async function invoke(records: SQSRecord[], remainingMs = 120_000): Promise<SQSBatchResponse> {
  return work({ Records: records }, lambdaContext(remainingMs, 'pop3-worker'));
}

function jobRecord(job: PollJob, options: { receiveCount?: number } = {}): SQSRecord {
  return sqsRecord(JSON.stringify(job), { groupId: job.accountId, ...options });
}

function archivePuts(accountId: string): PutObjectCommandInput[] {
  return s3Mock
    .commandCalls(PutObjectCommand)
    .map((c) => c.args[0].input)
    .filter((input) => input.Key!.startsWith(`mail/${accountId}/`));
}

function statePuts(accountId: string): PutObjectCommandInput[] {
  return s3Mock
    .commandCalls(PutObjectCommand)
    .map((c) => c.args[0].input)
    .filter((input) => input.Key === `state/${accountId}.json`);
}

function putEventEntries(): PutEventsRequestEntry[] {
  return eventsMock.commandCalls(PutEventsCommand).flatMap((c) => c.args[0].input.Entries ?? []);
}

function followUps() {
  return sqsMock.commandCalls(SendMessageCommand).map((c) => c.args[0].input);
}

/** The worker's one EMF record for an account's run. */
function runMetrics(accountId: string): EmfRecord {
  const records = output.metrics().filter((m) => m.accountId === accountId);
  expect(records).toHaveLength(1);
  return records[0]!;
}

function expectNoPasswordInOutput(): void {
  for (const password of PASSWORDS) expect(output.text).not.toContain(password);
}

describeWithDovecot('Lambda: worker (real Dovecot, AWS SDK mocked)', () => {
  beforeAll(async () => {
    server = await DovecotServer.start({ users: USERS });
    closedPort = (await freePorts(1))[0]!;
    Object.assign(process.env, {
      ARCHIVE_BUCKET: BUCKET,
      ARCHIVE_PREFIX: 'mail/',
      STATE_PREFIX: 'state/',
      EVENT_BUS_NAME: BUS,
      JOB_QUEUE_URL: QUEUE_URL,
      DEADLINE_MARGIN_SECONDS: '30',
      MAX_FOLLOW_UPS: '3',
      EXTRA_CA_PEM: server.certs.caPem,
    });
    secrets.set('pop3/alice', secretFor('alice', USERS[0]!.password));
    secrets.set('pop3/bob-wrong', secretFor('bob', WRONG_PASSWORD));
    secrets.set('pop3/carol', secretFor('carol', USERS[2]!.password));
    secrets.set('pop3/dave', secretFor('dave', USERS[3]!.password));
    secrets.set('pop3/down', secretFor('alice', USERS[0]!.password, closedPort));
  });

  afterAll(async () => {
    process.env = savedEnv;
    await server?.stop();
  });

  beforeEach(() => {
    s3Mock.reset();
    eventsMock.reset();
    sqsMock.reset();
    secretsMock.reset();
    installMocks();
    bucket.clear();
    for (const user of USERS) server.empty(user.name);
    output = new CapturedOutput();
  });

  afterEach(() => output.restore());

  it('drains a mailbox: exact bytes in conditional, checksummed PutObjects, events, then DELE', async () => {
    const messages = makeMessages(5, { batch: 'drain', bodyBytes: 3000 });
    server.deliver(messages, 'alice');

    const response = await invoke([jobRecord({ accountId: 'alice-box', secretId: 'pop3/alice' })]);

    expect(response).toEqual({ batchItemFailures: [] });
    expect(server.mailboxCount('alice')).toBe(0);

    const puts = archivePuts('alice-box');
    expect(puts.map((p) => sha256(p.Body as Buffer)).sort()).toEqual(messages.map(sha256).sort());
    for (const put of puts) {
      const body = put.Body as Buffer;
      const digest = sha256(body);
      expect(put).toMatchObject({
        Bucket: BUCKET,
        Key: `mail/alice-box/${digest}.eml`,
        IfNoneMatch: '*',
        ChecksumAlgorithm: 'SHA256',
        ChecksumSHA256: Buffer.from(digest, 'hex').toString('base64'),
        ContentLength: body.length,
        ContentType: 'message/rfc822',
      });
    }

    const entries = putEventEntries();
    expect(entries.every((e) => e.EventBusName === BUS && e.Source === 'pop3-poller')).toBe(true);
    const archived = entries.filter((e) => e.DetailType === 'Message Archived');
    expect(archived.map((e) => JSON.parse(e.Detail!).sha256).sort()).toEqual(messages.map(sha256).sort());
    for (const entry of archived) {
      const detail = JSON.parse(entry.Detail!);
      expect(detail).toMatchObject({
        accountId: 'alice-box',
        location: `s3://${BUCKET}/mail/alice-box/${detail.sha256}.eml`,
        metadata: 'complete',
      });
      expect(detail.subject).toMatch(/^Message [1-5]$/);
    }
    const summaries = entries.filter((e) => e.DetailType === 'Poll Completed');
    expect(summaries).toHaveLength(1);
    expect(JSON.parse(summaries[0]!.Detail!)).toMatchObject({
      accountId: 'alice-box',
      status: 'ok',
      listed: 5,
      archived: 5,
      deleted: 5,
      remaining: 0,
    });

    expect(followUps()).toHaveLength(0);
    expect(secretsMock).toHaveReceivedCommandWith(GetSecretValueCommand, { SecretId: 'pop3/alice' });

    const emf = runMetrics('alice-box');
    expect(emf).toMatchObject({
      MessagesArchived: 5,
      MessagesDeleted: 5,
      BytesArchived: messages.reduce((n, m) => n + m.length, 0),
      Backlog: 0,
      PollErrors: 0,
      NeedsAttention: 0,
      service: 'pop3-poller',
    });
    expect(emf.PollDuration).toEqual(expect.any(Number));
    const definition = emf._aws.CloudWatchMetrics[0]!;
    expect(definition.Namespace).toBe('Pop3Poller');
    expect(definition.Dimensions).toEqual([['service']]);
    expect(definition.Metrics.map((m) => m.Name).sort()).toEqual(
      ['Backlog', 'BytesArchived', 'MessagesArchived', 'MessagesDeleted', 'NeedsAttention', 'PollDuration', 'PollErrors'].sort(), // prettier-ignore
    );

    const completed = output.logs().find((l) => l.message === 'Poll completed');
    expect(completed).toMatchObject({ level: 'INFO', accountId: 'alice-box', archived: 5, status: 'ok' });
    expectNoPasswordInOutput();
  });

  it('sends follow-ups while maxMessages bounds the run, and none once the mailbox is drained', async () => {
    const messages = makeMessages(5, { batch: 'follow' });
    server.deliver(messages, 'alice');
    const first = jobRecord({ accountId: 'alice-box', secretId: 'pop3/alice', maxMessages: 2 });

    await expect(invoke([first])).resolves.toEqual({ batchItemFailures: [] });

    expect(server.mailboxCount('alice')).toBe(3);
    expect(followUps()).toEqual([
      {
        QueueUrl: QUEUE_URL,
        MessageBody: JSON.stringify({
          accountId: 'alice-box',
          secretId: 'pop3/alice',
          maxMessages: 2,
          followUp: 1,
        }),
        MessageGroupId: 'alice-box',
        MessageDeduplicationId: `alice-box@f:${first.messageId}`,
      },
    ]);
    expect(runMetrics('alice-box')).toMatchObject({ MessagesArchived: 2, Backlog: 3 });

    // The follow-ups, as SQS would deliver them.
    const second = jobRecord(JSON.parse(followUps()[0]!.MessageBody!) as PollJob);
    await expect(invoke([second])).resolves.toEqual({ batchItemFailures: [] });
    expect(server.mailboxCount('alice')).toBe(1);
    expect(followUps()).toHaveLength(2);
    expect(JSON.parse(followUps()[1]!.MessageBody!)).toMatchObject({ followUp: 2 });
    expect(followUps()[1]!.MessageDeduplicationId).toBe(`alice-box@f:${second.messageId}`);

    const third = jobRecord(JSON.parse(followUps()[1]!.MessageBody!) as PollJob);
    await expect(invoke([third])).resolves.toEqual({ batchItemFailures: [] });
    expect(server.mailboxCount('alice')).toBe(0);
    expect(followUps()).toHaveLength(2);
    expect(
      archivePuts('alice-box')
        .map((p) => sha256(p.Body as Buffer))
        .sort(),
    ).toEqual(messages.map(sha256).sort());
  });

  it('Gmail preset: a bound used up exactly still follows up, since Gmail lists only part of the mailbox', async () => {
    server.deliver(makeMessages(2, { batch: 'gmail' }), 'alice');
    // The secret points at the test Dovecot; the job names the provider.
    const job: PollJob = {
      accountId: 'alice-box',
      secretId: 'pop3/alice',
      provider: 'gmail',
      maxMessages: 2,
    };

    await expect(invoke([jobRecord(job)])).resolves.toEqual({ batchItemFailures: [] });

    expect(server.mailboxCount('alice')).toBe(0);
    expect(output.logs().find((l) => l.message === 'Poll completed')).toMatchObject({
      remaining: 0,
      stoppedBy: 'maxMessages',
      moreMayRemain: true,
    });
    expect(followUps()).toHaveLength(1);
    expect(JSON.parse(followUps()[0]!.MessageBody!)).toEqual({ ...job, followUp: 1 });

    // Without the preset, a drained listing means a drained mailbox: no follow-up.
    sqsMock.resetHistory();
    server.deliver(makeMessages(2, { batch: 'plain' }), 'alice');
    await invoke([jobRecord({ ...job, provider: undefined })]);
    expect(followUps()).toHaveLength(0);
  });

  it('OAuth2 secret whose refresh token was revoked: not retried, needs attention, no secret logged', async () => {
    const oauth = await OAuthTestServer.start();
    try {
      oauth.registerClient('desktop', 'Zq7-worker-client-secret');
      secrets.set(
        'pop3/oauth-revoked',
        JSON.stringify({
          host: server.host,
          port: server.tlsPort,
          username: 'alice',
          oauth2: {
            type: 'refresh_token',
            tokenUrl: oauth.tokenUrl,
            clientId: 'desktop',
            clientSecret: 'Zq7-worker-client-secret',
            refreshToken: 'Zq7-revoked-refresh-token',
          },
        }),
      );

      const response = await invoke([jobRecord({ accountId: 'oauth-box', secretId: 'pop3/oauth-revoked' })]);

      expect(response).toEqual({ batchItemFailures: [] });
      expect(runMetrics('oauth-box')).toMatchObject({ NeedsAttention: 1, PollErrors: 1 });
      const log = output.logs().find((l) => l.message === 'Poll failed and is not retried: needs attention');
      expect(log).toMatchObject({
        level: 'ERROR',
        failure: { code: 'ECREDENTIALS', retryable: false, needsAttention: true },
      });
      expect(JSON.stringify(log)).toContain('invalid_grant');
      expect(oauth.tokenRequests).toHaveLength(1);
      expect(output.text).not.toContain('Zq7-worker-client-secret');
      expect(output.text).not.toContain('Zq7-revoked-refresh-token');
    } finally {
      await oauth.stop();
    }
  });

  it('stops following up at MAX_FOLLOW_UPS and leaves the rest to the next tick', async () => {
    server.deliver(makeMessages(2, { batch: 'limit' }), 'alice');

    const job = { accountId: 'alice-box', secretId: 'pop3/alice', maxMessages: 1, followUp: 3 };
    await expect(invoke([jobRecord(job)])).resolves.toEqual({ batchItemFailures: [] });

    expect(server.mailboxCount('alice')).toBe(1);
    expect(followUps()).toHaveLength(0);
    expect(
      output.logs().find((l) => l.message === 'Follow-up limit reached; the next tick continues'),
    ).toMatchObject({
      level: 'WARN',
      remaining: 1,
      followUp: 3,
      maxFollowUps: 3,
    });
  });

  it('hands over to a follow-up when the deadline leaves no time to fetch', async () => {
    server.deliver(makeMessages(3, { batch: 'deadline' }), 'alice');
    const record = jobRecord({ accountId: 'alice-box', secretId: 'pop3/alice' });

    // Remaining time equal to DEADLINE_MARGIN_SECONDS: the deadline is now.
    await expect(invoke([record], 30_000)).resolves.toEqual({ batchItemFailures: [] });

    expect(server.mailboxCount('alice')).toBe(3);
    expect(archivePuts('alice-box')).toHaveLength(0);
    expect(followUps()).toHaveLength(1);
    expect(JSON.parse(followUps()[0]!.MessageBody!)).toEqual({
      accountId: 'alice-box',
      secretId: 'pop3/alice',
      followUp: 1,
    });
    expect(output.logs().find((l) => l.message === 'Poll completed')).toMatchObject({
      stoppedBy: 'deadline',
      remaining: 3,
    });
  });

  it('keep mode: archives new messages, saves the UIDLs to S3 conditionally, and the next run skips them', async () => {
    const messages = makeMessages(3, { batch: 'keep' });
    server.deliver(messages, 'carol');
    const job: PollJob = { accountId: 'carol-box', secretId: 'pop3/carol', mode: 'keep' };

    await expect(invoke([jobRecord(job)])).resolves.toEqual({ batchItemFailures: [] });

    expect(server.mailboxCount('carol')).toBe(3);
    expect(archivePuts('carol-box')).toHaveLength(3);
    const [statePut] = statePuts('carol-box');
    expect(statePuts('carol-box')).toHaveLength(1);
    expect(statePut).toMatchObject({ Bucket: BUCKET, IfNoneMatch: '*', ContentType: 'application/json' });
    expect(statePut!.IfMatch).toBeUndefined();
    const state = JSON.parse((statePut!.Body as Buffer).toString('utf8')) as Record<string, string>;
    const uidls = putEventEntries()
      .filter((e) => e.DetailType === 'Message Archived')
      .map((e) => JSON.parse(e.Detail!).uidl as string);
    expect(Object.keys(state).sort()).toEqual(uidls.sort());

    // A new message arrives; the next run archives only it and updates the state on its ETag.
    const [extra] = makeMessages(1, { batch: 'keep-2' });
    server.deliver([extra!], 'carol');
    const stateEtag = bucket.get('state/carol-box.json')!.etag;
    s3Mock.resetHistory();
    eventsMock.resetHistory();

    await expect(invoke([jobRecord(job)])).resolves.toEqual({ batchItemFailures: [] });

    expect(archivePuts('carol-box').map((p) => sha256(p.Body as Buffer))).toEqual([sha256(extra!)]);
    expect(statePuts('carol-box')).toHaveLength(1);
    expect(statePuts('carol-box')[0]).toMatchObject({ IfMatch: stateEtag });
    expect(
      Object.keys(JSON.parse((statePuts('carol-box')[0]!.Body as Buffer).toString('utf8'))),
    ).toHaveLength(4);
    expect(server.mailboxCount('carol')).toBe(4);
  });

  it('reports a retryable failure (server down) as a batch item failure, with backoff', async () => {
    const record = jobRecord({ accountId: 'down-box', secretId: 'pop3/down' }, { receiveCount: 2 });

    const response = await invoke([record]);

    expect(response).toEqual({ batchItemFailures: [{ itemIdentifier: record.messageId }] });
    expect(sqsMock).toHaveReceivedCommandWith(ChangeMessageVisibilityCommand, {
      QueueUrl: QUEUE_URL,
      ReceiptHandle: record.receiptHandle,
      VisibilityTimeout: 60,
    });
    const failed = putEventEntries().filter((e) => e.DetailType === 'Poll Failed');
    expect(failed).toHaveLength(1);
    expect(JSON.parse(failed[0]!.Detail!)).toMatchObject({
      accountId: 'down-box',
      status: 'failed',
      errorCode: 'ECONNECTION',
      retryable: true,
    });
    expect(runMetrics('down-box')).toMatchObject({ PollErrors: 1, NeedsAttention: 0 });
    const log = output.logs().find((l) => l.message === 'Poll failed; SQS retries the job');
    expect(log).toMatchObject({
      level: 'WARN',
      accountId: 'down-box',
      receiveCount: 2,
      failure: { code: 'ECONNECTION', retryable: true, needsAttention: false },
    });
    expect(followUps()).toHaveLength(0);
  });

  it('holds back later jobs of a failed message group, and goes on with other groups', async () => {
    server.deliver(makeMessages(2, { batch: 'batch' }), 'dave');
    const down1 = jobRecord({ accountId: 'down-box', secretId: 'pop3/down' });
    const down2 = jobRecord({ accountId: 'down-box', secretId: 'pop3/down', followUp: 1 });
    const dave = jobRecord({ accountId: 'dave-box', secretId: 'pop3/dave' });

    const response = await invoke([down1, down2, dave]);

    expect(response.batchItemFailures).toEqual([
      { itemIdentifier: down1.messageId },
      { itemIdentifier: down2.messageId },
    ]);
    expect(secretsMock).toHaveReceivedCommandTimes(GetSecretValueCommand, 2); // down1 and dave only
    expect(server.mailboxCount('dave')).toBe(0);
    expect(archivePuts('dave-box')).toHaveLength(2);
  });

  it('ECREDENTIALS: a missing secret is not retried and needs attention', async () => {
    const response = await invoke([jobRecord({ accountId: 'ghost-box', secretId: 'pop3/ghost' })]);

    expect(response).toEqual({ batchItemFailures: [] });
    expect(runMetrics('ghost-box')).toMatchObject({ NeedsAttention: 1, PollErrors: 1 });
    expect(output.logs().find((l) => l.level === 'ERROR')).toMatchObject({
      failure: { code: 'ECREDENTIALS', retryable: false },
      needsAttention: true,
    });
  });

  it('drops a malformed job without retrying it, flagged as needing attention', async () => {
    const notJson = sqsRecord('{"accountId": "alice-box",', { groupId: 'alice-box' });
    const invalid = sqsRecord(JSON.stringify({ accountId: '../alice', secretId: 'pop3/alice' }));

    const response = await invoke([notJson, invalid]);

    expect(response).toEqual({ batchItemFailures: [] });
    expect(secretsMock).toHaveReceivedCommandTimes(GetSecretValueCommand, 0);
    const logs = output.logs().filter((l) => l.message === 'Malformed poll job dropped');
    expect(logs.map((l) => [l.level, l.messageId, l.problem, l.needsAttention])).toEqual([
      ['ERROR', notJson.messageId, 'the message body is not JSON', true],
      ['ERROR', invalid.messageId, 'job.accountId must be 1-64 characters of A-Z a-z 0-9 . _ -', true],
    ]);
    const emf = output.metrics();
    expect(emf.map((m) => [m.messageId, m.NeedsAttention, m.PollErrors])).toEqual([
      [notJson.messageId, 1, 1],
      [invalid.messageId, 1, 1],
    ]);
  });

  it('end to end: the dispatcher enqueues, the worker polls what it enqueued', async () => {
    server.deliver(makeMessages(2, { batch: 'e2e-a' }), 'alice');
    server.deliver(makeMessages(3, { batch: 'e2e-d' }), 'dave');
    sqsMock.on(SendMessageBatchCommand).callsFake((input: { Entries: Array<{ Id: string }> }) => ({
      Successful: input.Entries.map((e) => ({ Id: e.Id, MessageId: `m-${e.Id}`, MD5OfMessageBody: 'x' })),
      Failed: [],
    }));

    await dispatch(
      {
        jobs: [
          { accountId: 'alice-box', secretId: 'pop3/alice' },
          { accountId: 'dave-box', secretId: 'pop3/dave', mode: 'delete' },
        ],
        scheduledTime: '2025-03-04T10:05:00Z',
      },
      lambdaContext(60_000, 'pop3-dispatcher'),
    );
    const entries = sqsMock
      .commandCalls(SendMessageBatchCommand)
      .flatMap((c) => c.args[0].input.Entries ?? []);
    const records = entries.map((e) => sqsRecord(e.MessageBody!, { groupId: e.MessageGroupId! }));

    await expect(invoke(records)).resolves.toEqual({ batchItemFailures: [] });

    expect(server.mailboxCount('alice')).toBe(0);
    expect(server.mailboxCount('dave')).toBe(0);
    expect(archivePuts('alice-box')).toHaveLength(2);
    expect(archivePuts('dave-box')).toHaveLength(3);
    expectNoPasswordInOutput();
  });

  // Last: after a failed login Dovecot holds the next logins from the same address for seconds.
  it('EAUTH: not retried, logged at error level as needing attention, NeedsAttention metric; no password logged', async () => {
    server.deliver(makeMessages(2, { batch: 'auth' }), 'bob');
    const record = jobRecord({ accountId: 'bob-box', secretId: 'pop3/bob-wrong' });

    const response = await invoke([record]);

    expect(response).toEqual({ batchItemFailures: [] });
    expect(sqsMock).toHaveReceivedCommandTimes(ChangeMessageVisibilityCommand, 0);
    expect(server.mailboxCount('bob')).toBe(2);
    expect(runMetrics('bob-box')).toMatchObject({ NeedsAttention: 1, PollErrors: 1, MessagesArchived: 0 });
    const log = output.logs().find((l) => l.message === 'Poll failed and is not retried: needs attention');
    expect(log).toMatchObject({
      level: 'ERROR',
      accountId: 'bob-box',
      needsAttention: true,
      failure: { code: 'EAUTH', retryable: false, needsAttention: true },
    });
    const failed = putEventEntries().filter((e) => e.DetailType === 'Poll Failed');
    expect(JSON.parse(failed[0]!.Detail!)).toMatchObject({ errorCode: 'EAUTH', needsAttention: true });
    // Dovecot refused the password (EAUTH); it appears in no log line, metric or event.
    expectNoPasswordInOutput();
    for (const entry of putEventEntries()) expect(entry.Detail).not.toContain(WRONG_PASSWORD);
  });
});
