import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import {
  DeleteBucketCommand,
  DeleteObjectsCommand,
  GetBucketTaggingCommand,
  ListBucketsCommand,
  ListObjectsV2Command,
  ListObjectVersionsCommand,
  PutBucketLoggingCommand,
  S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import {
  DeleteSecretCommand,
  PutSecretValueCommand,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import {
  DeleteMessageBatchCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import { parseDeployment } from '../../infra/config-file';
import { run, type RunDeps } from '../../scripts/aws-e2e';
import type { E2eSettings } from '../../scripts/e2e/settings';
import { makeTestCertificates } from '../support/certs';
import { eventBody, mail, sqsMessage, storeInS3, type Mail } from '../support/e2e-fixtures';
import { mailboxScript, startFakeServer, type FakeServer } from '../support/fake-pop3-server';

/**
 * The whole run of scripts/aws-e2e.ts, offline: a scripted POP3 server as the test mailbox, the
 * CDK CLI replaced by a fake that writes the outputs file `cdk deploy` would, and S3, SQS and
 * Secrets Manager mocked at the SDK boundary, with a fake "worker" that empties the mailbox and
 * fills the archive and the sample queue when the job is sent.
 */

const s3Mock = mockClient(S3Client);
const sqsMock = mockClient(SQSClient);
const smMock = mockClient(SecretsManagerClient);

const USERNAME = 'e2e@example.com';
const PASSWORD = 'pw-DO-NOT-ECHO-7f3a';
const ACCOUNT_NO = '111122223333';
const QUEUES = `https://sqs.eu-west-1.amazonaws.com/${ACCOUNT_NO}`;
const certs = makeTestCertificates();
const MESSAGES = ['Subject: one\r\n\r\n1\r\n', 'Subject: two\r\n\r\nsecond\r\n'];

interface World {
  server: FakeServer;
  /** Set by the fake worker: the mailbox then answers STAT with 0. */
  emptied: boolean;
  cdk: string[][];
  cdkEnvs: Record<string, string>[];
  deploymentFile: unknown;
  stackName: string;
  archiveBucket: string;
  logBucket: string;
  secretArn: string;
  mails: Mail[];
  out: string;
}

let world: World;

function logicalIds(stack: string, w: World): Record<string, string> {
  return {
    PollerArchiveBucketName0A1B2C3D: w.archiveBucket,
    PollerArchivePrefix1A2B3C4D: 'mail/',
    PollerAccessLogBucketName2A3B4C5D: w.logBucket,
    PollerJobQueueUrl3A4B5C6D: `${QUEUES}/${stack}-PollerJobQueue-x.fifo`,
    PollerJobDeadLetterQueueUrl4A5B6C7D: `${QUEUES}/${stack}-PollerJobDeadLetterQueue-x.fifo`,
    PollerSampleQueueUrl5A6B7C8D: `${QUEUES}/${stack}-PollerMessageArchivedSampleQueue-x`,
    PollerSecretsToFill6A7B8C9D: `pop3-poller/${stack}/e2e`,
    PollerCreatedSecretArns7A8B9C0D: w.secretArn,
    PollerWorkerLogGroupName8A9B0C1D: `${stack}-PollerWorkerLogGroup-x`,
    PollerDispatcherLogGroupName9A0B1C2D: `${stack}-PollerDispatcherLogGroup-x`,
  };
}

/** The CDK CLI: `deploy` writes the outputs file (unless told to fail), `destroy` succeeds. */
function fakeCdk(options: { deployCode?: number } = {}): RunDeps['runCdk'] {
  return async (args, env) => {
    world.cdk.push([...args]);
    world.cdkEnvs.push(env);
    const [command, stack] = args as [string, string];
    const configFile = args[args.indexOf('-c') + 1]!.replace(/^configFile=/, '');
    world.deploymentFile = JSON.parse(readFileSync(configFile, 'utf8'));
    if (command === 'deploy') {
      world.stackName = stack;
      const lower = stack.toLowerCase();
      world.archiveBucket = `${lower}-pollerarchivebucket1a2b3c-abc`;
      world.logBucket = `${lower}-polleraccesslogbucket4d5e6f-abc`;
      world.secretArn = `arn:aws:secretsmanager:eu-west-1:${ACCOUNT_NO}:secret:pop3-poller/${stack}/e2e-AbCdEf`;
      if (options.deployCode) return options.deployCode;
      const file = args[args.indexOf('--outputs-file') + 1]!;
      writeFileSync(file, JSON.stringify({ [stack]: logicalIds(stack, world) }));
    }
    return 0;
  };
}

/** On SendMessage: what the deployed worker does with the job. */
function fakeWorker(): void {
  sqsMock.on(SendMessageCommand).callsFake(() => {
    world.emptied = true;
    world.mails = MESSAGES.map((text, i) =>
      mail(i + 1, world.archiveBucket, { bytes: Buffer.from(text), uidl: `uid-${i + 1}` }),
    );
    storeInS3(s3Mock, world.mails);
    sqsMock
      .on(ReceiveMessageCommand)
      .resolvesOnce({ Messages: world.mails.map((m) => sqsMessage(eventBody(m.event))) })
      .resolves({ Messages: [] });
    return { MessageId: 'job-1' };
  });
}

function settings(overrides: Partial<E2eSettings> = {}, password = PASSWORD): E2eSettings {
  return {
    pop3: {
      host: 'localhost',
      port: world.server.port,
      tls: 'implicit',
      username: USERNAME,
      password,
      caPem: certs.caPem,
    },
    expectMessages: undefined,
    timeoutSeconds: 60,
    region: 'eu-west-1',
    profile: undefined,
    ...overrides,
  };
}

async function runCaptured(s: E2eSettings, cdk: RunDeps['runCdk']): Promise<number> {
  const out: string[] = [];
  const spy = jest.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
    out.push(String(chunk));
    return true;
  });
  try {
    return await run(
      s,
      { PATH: '/usr/bin', E2E_POP3_PASSWORD: PASSWORD, AWS_PROFILE: 'sandbox' },
      {
        runCdk: cdk,
        s3: new S3Client({ region: 'eu-west-1' }),
        sqs: new SQSClient({ region: 'eu-west-1' }),
        secrets: new SecretsManagerClient({ region: 'eu-west-1' }),
      },
    );
  } finally {
    spy.mockRestore();
    world.out = out.join('');
  }
}

beforeEach(async () => {
  s3Mock.reset();
  sqsMock.reset();
  smMock.reset();
  world = {
    server: undefined as unknown as FakeServer,
    emptied: false,
    cdk: [],
    cdkEnvs: [],
    deploymentFile: undefined,
    stackName: '',
    archiveBucket: '',
    logBucket: '',
    secretArn: '',
    mails: [],
    out: '',
  };
  world.server = await startFakeServer(
    mailboxScript({
      username: USERNAME,
      password: PASSWORD,
      messages: MESSAGES,
      override: (line) => {
        if (!world.emptied) return undefined;
        if (line === 'STAT') return '+OK 0 0\r\n';
        if (line === 'UIDL') return '+OK\r\n.\r\n';
        return undefined;
      },
    }),
    { certificate: certs, implicitTls: true },
  );
  smMock.on(PutSecretValueCommand).resolves({});
  smMock.on(DeleteSecretCommand).resolves({});
  sqsMock.on(DeleteMessageBatchCommand).resolves({ Successful: [], Failed: [] });
  sqsMock.on(GetQueueAttributesCommand).resolves({ Attributes: { ApproximateNumberOfMessages: '0' } });
  sqsMock.on(ReceiveMessageCommand).resolves({ Messages: [] });
  s3Mock.on(ListBucketsCommand).resolves({ Buckets: [] });
  s3Mock
    .on(ListObjectVersionsCommand)
    .resolves({ Versions: [{ Key: 'k', VersionId: 'v' }], IsTruncated: false });
  s3Mock.on(DeleteObjectsCommand).resolves({});
  s3Mock.on(DeleteBucketCommand).resolves({});
  s3Mock.on(PutBucketLoggingCommand).resolves({});
});

afterEach(async () => {
  await world.server.close();
});

describe('scripts/aws-e2e.ts run', () => {
  it('deploys, fills the secret, sends the job, checks archive, events and mailbox, then removes everything', async () => {
    fakeWorker();

    const code = await runCaptured(settings(), fakeCdk());

    expect(world.out).toContain('RESULT: PASS');
    expect(code).toBe(0);
    const stack = world.stackName;
    expect(stack).toMatch(/^Pop3E2E-[a-z0-9]{10}$/);

    // The CDK CLI: deploy, then destroy, with the deployment file; the mailbox settings withheld.
    expect(world.cdk.map((args) => args.slice(0, 2))).toEqual([
      ['deploy', stack],
      ['destroy', stack],
    ]);
    expect(world.cdk[0]).toEqual(
      expect.arrayContaining(['--require-approval', 'never', '--outputs-file', '-c', '--output']),
    );
    expect(world.cdk[1]).toContain('--force');
    for (const env of world.cdkEnvs) {
      expect(env).toEqual({
        PATH: '/usr/bin',
        AWS_PROFILE: 'sandbox',
        AWS_REGION: 'eu-west-1',
        AWS_DEFAULT_REGION: 'eu-west-1',
      });
    }
    expect(parseDeployment(world.deploymentFile, 'deployment.json').deployment).toEqual({ stackName: stack });

    // The secret, then the job.
    expect(smMock).toHaveReceivedCommandWith(PutSecretValueCommand, { SecretId: world.secretArn });
    const secret = smMock.commandCalls(PutSecretValueCommand)[0]!.args[0].input.SecretString!;
    expect(JSON.parse(secret)).toEqual({
      host: 'localhost',
      port: world.server.port,
      tls: 'implicit',
      username: USERNAME,
      password: PASSWORD,
    });
    expect(sqsMock).toHaveReceivedCommandWith(SendMessageCommand, {
      QueueUrl: `${QUEUES}/${stack}-PollerJobQueue-x.fifo`,
      MessageBody: JSON.stringify({ accountId: 'e2e', secretId: `pop3-poller/${stack}/e2e` }),
      MessageGroupId: 'e2e',
      MessageDeduplicationId: expect.stringMatching(/^e2e@e2e-\d+$/),
    });

    // The summary: every check, and every clean-up step.
    for (const name of [
      'mailbox before',
      'deploy',
      'secret filled',
      'job sent',
      'archived in time',
      'events',
      'UIDLs',
      'objects',
      'object integrity',
      'mailbox emptied',
    ]) {
      expect(world.out).toMatch(new RegExp(`\\n  PASS  ${name} `));
    }
    expect(world.out).not.toMatch(/FAIL|LEFT/);
    expect(world.out).toContain(`done  bucket ${world.archiveBucket}: deleted with 1 object version(s)`);
    expect(world.out).toContain(`done  secret pop3-poller/${stack}/e2e: deleted without recovery window`);
    expect(world.out).toContain(`aws logs delete-log-group --log-group-name ${stack}-PollerWorkerLogGroup-x`);
    expect(world.out).not.toContain(PASSWORD);

    // Buckets: logging off on the archive first, the access-log bucket deleted last.
    expect(s3Mock.commandCalls(PutBucketLoggingCommand).map((c) => c.args[0].input.Bucket)).toEqual([
      world.archiveBucket,
    ]);
    expect(s3Mock.commandCalls(DeleteBucketCommand).map((c) => c.args[0].input.Bucket)).toEqual([
      world.archiveBucket,
      world.logBucket,
    ]);
    expect(s3Mock).toHaveReceivedCommandWith(ListBucketsCommand, { Prefix: `${stack.toLowerCase()}-` });
    expect(smMock).toHaveReceivedCommandWith(DeleteSecretCommand, {
      SecretId: world.secretArn,
      ForceDeleteWithoutRecovery: true,
    });
    // The temporary directory (deployment file, outputs, cloud assembly) is gone.
    const configFile = world.cdk[0]![world.cdk[0]!.indexOf('-c') + 1]!.replace('configFile=', '');
    expect(existsSync(dirname(configFile))).toBe(false);
  });

  it('cleans up after a failed deploy, finding the buckets by their CloudFormation tag', async () => {
    s3Mock.on(ListBucketsCommand).callsFake(() => ({
      Buckets: [{ Name: `${world.stackName.toLowerCase()}-pollerarchivebucket1a2b3c-abc` }],
    }));
    s3Mock.on(GetBucketTaggingCommand).callsFake(() => ({
      TagSet: [{ Key: 'aws:cloudformation:stack-name', Value: world.stackName }],
    }));

    const code = await runCaptured(settings(), fakeCdk({ deployCode: 1 }));

    expect(code).toBe(1);
    expect(world.out).toMatch(/FAIL {2}run stopped {8}cdk deploy exited with 1/);
    expect(world.out).toContain('RESULT: FAIL');
    expect(world.cdk.map((args) => args[0])).toEqual(['deploy', 'destroy']);
    expect(smMock).toHaveReceivedCommandTimes(PutSecretValueCommand, 0);
    expect(sqsMock).toHaveReceivedCommandTimes(SendMessageCommand, 0);
    expect(s3Mock).toHaveReceivedCommandWith(DeleteBucketCommand, { Bucket: world.archiveBucket });
    expect(smMock).toHaveReceivedCommandWith(DeleteSecretCommand, {
      SecretId: `pop3-poller/${world.stackName}/e2e`,
      ForceDeleteWithoutRecovery: true,
    });
  });

  it('fails when the job ends in the dead-letter queue, still cleaning up', async () => {
    sqsMock.on(SendMessageCommand).resolves({ MessageId: 'job-1' });
    sqsMock.on(GetQueueAttributesCommand).resolves({ Attributes: { ApproximateNumberOfMessages: '1' } });
    s3Mock.on(ListObjectsV2Command).resolves({ Contents: [] });

    const code = await runCaptured(settings(), fakeCdk());

    expect(code).toBe(1);
    expect(world.out).toMatch(
      /FAIL {2}archived in time {3}the job landed in the job dead-letter queue; see the worker's logs/,
    );
    expect(world.out).toMatch(/FAIL {2}events {13}0 distinct "Message Archived" events, expected 2/);
    expect(world.out).toMatch(/FAIL {2}mailbox emptied {4}STAT reports 2 message\(s\) still on the server/);
    expect(world.cdk.map((args) => args[0])).toEqual(['deploy', 'destroy']);
    expect(s3Mock).toHaveReceivedCommandTimes(DeleteBucketCommand, 2);
  });

  it('passes but exits 1, listing what was left behind, when clean-up fails', async () => {
    fakeWorker();
    s3Mock.on(DeleteBucketCommand).callsFake((input: { Bucket: string }) => {
      if (input.Bucket === world.logBucket) {
        throw new S3ServiceException({
          name: 'AccessDenied',
          $fault: 'client',
          $metadata: {},
          message: 'denied',
        });
      }
      return {};
    });

    const code = await runCaptured(settings(), fakeCdk());

    expect(code).toBe(1);
    expect(world.out).toContain(
      `LEFT  bucket ${world.logBucket}: AccessDenied: denied: empty it in the S3 console`,
    );
    expect(world.out).toContain('RESULT: PASS — and resources were left behind (LEFT above)');
  });

  it('stops before deploying anything when the mailbox cannot be read, is empty, or holds another count', async () => {
    await expect(runCaptured(settings({}, 'wrong-pw-9c1d'), fakeCdk())).resolves.toBe(1);
    expect(world.out).toMatch(/FAIL before deploying anything: the test mailbox cannot be read: Pop3Error: /);
    expect(world.out).not.toContain('wrong-pw-9c1d');

    await expect(runCaptured(settings({ expectMessages: 3 }), fakeCdk())).resolves.toBe(1);
    expect(world.out).toContain('the test mailbox holds 2 message(s), E2E_EXPECT_MESSAGES says 3');

    world.emptied = true;
    await expect(runCaptured(settings(), fakeCdk())).resolves.toBe(1);
    expect(world.out).toContain('the test mailbox is empty; put a few messages in it first');

    expect(world.cdk).toEqual([]);
    expect(s3Mock.calls()).toHaveLength(0);
    expect(sqsMock.calls()).toHaveLength(0);
    expect(smMock.calls()).toHaveLength(0);
  });
});
