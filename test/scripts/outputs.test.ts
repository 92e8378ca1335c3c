import { Template } from 'aws-cdk-lib/assertions';
import { Pop3PollerStack } from '../../infra/stack';
import { findOutputs, OUTPUT_NAMES, OutputsError, parseOutputs } from '../../scripts/e2e/outputs';
import { e2eDeployment } from '../../scripts/e2e/settings';
import { ENV, testApp } from '../support/cdk-app';

/**
 * The outputs file `cdk deploy --outputs-file` writes for the test stack, built from the logical
 * ids the construct really synthesizes (so a renamed output breaks this test, not a paid run).
 */

const STACK = 'Pop3E2E-abcdefghij';
const SECRET_ARN = `arn:aws:secretsmanager:eu-west-1:111122223333:secret:pop3-poller/${STACK}/e2e-AbCdEf`;
const QUEUE = 'https://sqs.eu-west-1.amazonaws.com/111122223333';

/** What CloudFormation would resolve each output to. */
const VALUES: Record<string, string> = {
  ArchiveBucketName: 'pop3e2e-abcdefghij-pollerarchivebucket1a2b3c-xyz',
  ArchivePrefix: 'mail/',
  AccessLogBucketName: 'pop3e2e-abcdefghij-polleraccesslogbucket4d5e6f-xyz',
  EventBusName: 'Pop3E2EabcdefghijPollerEventBus',
  EventArchiveArn: 'arn:aws:events:eu-west-1:111122223333:archive/x',
  SampleQueueUrl: `${QUEUE}/Pop3E2E-abcdefghij-PollerMessageArchivedSampleQueue-x`,
  JobQueueUrl: `${QUEUE}/Pop3E2E-abcdefghij-PollerJobQueue-x.fifo`,
  JobDeadLetterQueueUrl: `${QUEUE}/Pop3E2E-abcdefghij-PollerJobDeadLetterQueue-x.fifo`,
  SecretsToFill: `pop3-poller/${STACK}/e2e`,
  CreatedSecretArns: SECRET_ARN,
  DispatcherFunctionName: 'dispatcher',
  WorkerFunctionName: 'worker',
  ScheduleGroupName: 'group',
  ScheduleGroups: '["default"]',
  WorkerLogGroupName: `${STACK}-PollerWorkerLogGroup-x`,
  DispatcherLogGroupName: `${STACK}-PollerDispatcherLogGroup-x`,
  RegistryTableName: `${STACK}-PollerRegistryTable-x`,
  SecretNamePrefix: `pop3-poller/${STACK}/`,
};

let outputIds: string[];

beforeAll(() => {
  const { poller } = e2eDeployment(STACK, undefined);
  const template = Template.fromStack(new Pop3PollerStack(testApp(), STACK, { poller, env: ENV }));
  outputIds = Object.keys(template.toJSON().Outputs as object);
});

/** The file as the CDK CLI writes it, each output under its synthesized logical id. */
function outputsFile(change: (name: string, value: string) => string | undefined = (_n, v) => v) {
  const stack: Record<string, string> = {};
  for (const id of outputIds) {
    const name = id.replace(/^Poller/, '').replace(/[0-9A-F]{8}$/, '');
    expect(VALUES[name]).toBeDefined();
    const value = change(name, VALUES[name]!);
    if (value !== undefined) stack[id] = value;
  }
  return { [STACK]: stack };
}

describe('scripts/aws-e2e.ts outputs', () => {
  it('reads every output the run needs from the synthesized logical ids', () => {
    expect(outputIds.every((id) => /^Poller[A-Za-z]+[0-9A-F]{8}$/.test(id))).toBe(true);
    expect(parseOutputs(outputsFile(), STACK)).toEqual({
      archiveBucketName: VALUES.ArchiveBucketName,
      archivePrefix: 'mail/',
      accessLogBucketName: VALUES.AccessLogBucketName,
      jobQueueUrl: VALUES.JobQueueUrl,
      jobDeadLetterQueueUrl: VALUES.JobDeadLetterQueueUrl,
      sampleQueueUrl: VALUES.SampleQueueUrl,
      secretArn: SECRET_ARN,
      secretName: `pop3-poller/${STACK}/e2e`,
      workerLogGroupName: VALUES.WorkerLogGroupName,
      dispatcherLogGroupName: VALUES.DispatcherLogGroupName,
    });
  });

  it('tells JobQueueUrl from JobDeadLetterQueueUrl, and accepts plain output names', () => {
    const found = findOutputs(
      { [STACK]: { JobDeadLetterQueueUrl: 'dlq', JobQueueUrl: 'queue', Other: 'x' } },
      STACK,
    );
    expect(found).toEqual({ jobQueueUrl: 'queue', jobDeadLetterQueueUrl: 'dlq' });
  });

  it('names every output that is missing or malformed', () => {
    const file = outputsFile((name, value) =>
      name === 'SampleQueueUrl' || name === 'AccessLogBucketName'
        ? undefined
        : name === 'JobQueueUrl'
          ? value.replace('.fifo', '')
          : name === 'CreatedSecretArns'
            ? 'arn:aws:s3:::not-a-secret'
            : value,
    );
    expect(() => parseOutputs(file, STACK)).toThrow(
      new OutputsError(
        `unexpected outputs of stack ${STACK}: AccessLogBucketName is missing; SampleQueueUrl is missing; ` +
          'CreatedSecretArns is not a Secrets Manager secret ARN; JobQueueUrl is not a FIFO queue URL',
      ),
    );
  });

  it('expects exactly one created secret', () => {
    const file = outputsFile((name, value) =>
      name === 'CreatedSecretArns'
        ? `${value}, ${value}2`
        : name === 'SecretsToFill'
          ? `${value}, other`
          : value,
    );
    expect(() => parseOutputs(file, STACK)).toThrow(
      /CreatedSecretArns lists 2 secrets; the test stack creates exactly one; SecretsToFill lists 2 secrets/,
    );
  });

  it('finds nothing for a stack the file does not hold (a failed deploy), and reads partial files', () => {
    expect(findOutputs({}, STACK)).toEqual({});
    expect(findOutputs({ [STACK]: { PollerArchiveBucketName0A1B2C3D: 'b' } }, STACK)).toEqual({
      archiveBucketName: 'b',
    });
    expect(() => parseOutputs({}, STACK)).toThrow(
      Object.values(OUTPUT_NAMES)
        .map((name) => `${name} is missing`)
        .join('; '),
    );
  });

  it('rejects what is not an outputs file, and ambiguous names', () => {
    expect(() => findOutputs([], STACK)).toThrow('the outputs file is not a JSON object');
    expect(() => findOutputs({ [STACK]: 'x' }, STACK)).toThrow(
      `the outputs of stack ${STACK} are not a JSON object`,
    );
    expect(() =>
      findOutputs({ [STACK]: { AArchivePrefix0A1B2C3D: 'a/', BArchivePrefix0A1B2C3D: 'b/' } }, STACK),
    ).toThrow(/has 2 outputs named ArchivePrefix/);
  });
});
