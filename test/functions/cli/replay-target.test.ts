import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { EventBridgeClient, PutEventsCommand, type PutEventsRequestEntry } from '@aws-sdk/client-eventbridge';
import {
  GetObjectCommand,
  ListObjectsV2Command,
  S3Client,
  type GetObjectCommandOutput,
} from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import { replay, type ReplayIo } from '../../../functions/cli/replay-command';
import { makeMessage } from '../../support/poll-fixtures';
import { tempDir } from '../../support/temp';

/**
 * `replay --stack NAME`: the archive bucket, its prefix and the bus come from the stack's outputs
 * (one DescribeStacks); the events go to that bus by default. All three SDK clients mocked.
 */

const cfMock = mockClient(CloudFormationClient);
const s3Mock = mockClient(S3Client);
const ebMock = mockClient(EventBridgeClient);

const bytes = makeMessage(1);
const sha = createHash('sha256').update(bytes).digest('hex');

function io(): ReplayIo & { err: () => string } {
  let err = '';
  return {
    stdout: { write: () => true },
    stderr: { write: (t: string) => (err += t) },
    live: false,
    clients: {
      s3: (settings) => new S3Client({ region: settings.region ?? 'eu-west-1' }),
      eventBridge: (region) => new EventBridgeClient({ region: region ?? 'eu-west-1' }),
      cloudFormation: (region) => new CloudFormationClient({ region: region ?? 'eu-west-1' }),
    },
    stop: new AbortController().signal,
    err: () => err,
  };
}

beforeEach(() => {
  cfMock.reset();
  s3Mock.reset();
  ebMock.reset();
  cfMock.on(DescribeStacksCommand).resolves({
    Stacks: [
      {
        StackName: 'mail',
        CreationTime: new Date(),
        StackStatus: 'UPDATE_COMPLETE',
        Outputs: [
          { OutputKey: 'PollerArchiveBucketName0A1B2C3D', OutputValue: 'mail-archive-bucket' },
          { OutputKey: 'PollerArchivePrefix0A1B2C3D', OutputValue: 'mail/' },
          { OutputKey: 'PollerEventBusName0A1B2C3D', OutputValue: 'mail-bus' },
          { OutputKey: 'PollerJobQueueUrl0A1B2C3D', OutputValue: 'https://queue' },
        ],
      },
    ],
  });
  s3Mock.on(ListObjectsV2Command).callsFake((input: { Prefix: string; Delimiter?: string }) =>
    input.Delimiter
      ? { CommonPrefixes: [{ Prefix: 'mail/support/' }] }
      : {
          Contents: [
            {
              Key: `mail/support/${sha}.eml`,
              Size: bytes.length,
              LastModified: new Date('2026-12-01T10:00:01Z'),
            },
          ],
        },
  );
  s3Mock.on(GetObjectCommand).callsFake(
    () =>
      ({
        Body: Readable.from([bytes]),
        Metadata: { uidl: 'UID-1', 'archived-at': '2026-12-01T10:00:00.000Z', 'event-source': 'pop3-poller' },
      }) as unknown as GetObjectCommandOutput,
  );
  ebMock.on(PutEventsCommand).callsFake((input: { Entries: PutEventsRequestEntry[] }) => ({
    FailedEntryCount: 0,
    Entries: input.Entries.map(() => ({ EventId: 'eb' })),
  }));
});

afterAll(() => {
  cfMock.restore();
  s3Mock.restore();
  ebMock.restore();
});

describe('pop3-poller replay --stack', () => {
  it('reads the stack’s bucket and prefix and puts the events on the stack’s bus', async () => {
    const c = io();
    const code = await replay(
      [
        '--stack',
        'mail',
        '--region',
        'eu-west-1',
        '--since',
        '2026-12-01',
        '--state',
        `${tempDir('replay-stack-')}/s.json`,
      ],
      c,
    );
    expect({ code, err: c.err() }).toEqual({
      code: 0,
      err: expect.stringMatching(/re-emitted 1 events of 1 messages/),
    });
    expect(cfMock).toHaveReceivedCommandTimes(DescribeStacksCommand, 1);
    expect(cfMock).toHaveReceivedCommandWith(DescribeStacksCommand, { StackName: 'mail' });
    expect(s3Mock).toHaveReceivedCommandWith(ListObjectsV2Command, {
      Bucket: 'mail-archive-bucket',
      Prefix: 'mail/',
      Delimiter: '/',
    });
    expect(s3Mock).toHaveReceivedCommandWith(GetObjectCommand, {
      Bucket: 'mail-archive-bucket',
      Key: `mail/support/${sha}.eml`,
      ChecksumMode: 'ENABLED',
    });
    expect(ebMock).toHaveReceivedCommandTimes(PutEventsCommand, 1);
    const [entry] = ebMock.commandCalls(PutEventsCommand)[0]!.args[0].input.Entries!;
    expect(entry).toMatchObject({
      EventBusName: 'mail-bus',
      Source: 'pop3-poller',
      DetailType: 'Message Archived',
    });
    expect(JSON.parse(entry!.Detail!)).toMatchObject({
      location: `s3://mail-archive-bucket/mail/support/${sha}.eml`,
      key: `support/${sha}.eml`,
      uidl: 'UID-1',
      replay: { runId: expect.any(String), requestedAt: expect.any(String) },
    });
  });

  it('a dry run describes the stack and reads, and puts nothing', async () => {
    expect(await replay(['--stack', 'mail', '--dry-run'], io())).toBe(0);
    expect(ebMock).not.toHaveReceivedCommand(PutEventsCommand);
  });

  it('names a missing stack, or one without the outputs, as bad usage', async () => {
    cfMock
      .on(DescribeStacksCommand)
      .rejects(Object.assign(new Error('Stack with id nope does not exist'), { name: 'ValidationError' }));
    await expect(replay(['--stack', 'nope', '--region', 'eu-west-1', '--dry-run'], io())).rejects.toThrow(
      'stack "nope" not found in eu-west-1 (check --stack and --region)',
    );
    cfMock.on(DescribeStacksCommand).resolves({
      Stacks: [{ StackName: 'x', CreationTime: new Date(), StackStatus: 'CREATE_COMPLETE', Outputs: [] }],
    });
    await expect(replay(['--stack', 'x', '--dry-run'], io())).rejects.toThrow(
      'stack "x" has no ArchiveBucketName output (is it a pop3-poller stack?)',
    );
  });
});
