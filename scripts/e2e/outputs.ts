/**
 * The test stack's outputs, from the file `cdk deploy --outputs-file` writes:
 * `{ "<stack name>": { "<output logical id>": "<value>", … } }`. The construct's outputs sit
 * under the `Poller` construct, so their logical ids carry a path prefix and a hash
 * (`PollerArchiveBucketName1A2B3C4D`); each is found by its name followed by 8 hex digits.
 */

/** The outputs the script uses, by their construct ids (infra/pop3-poller.ts). */
export const OUTPUT_NAMES = {
  archiveBucketName: 'ArchiveBucketName',
  archivePrefix: 'ArchivePrefix',
  accessLogBucketName: 'AccessLogBucketName',
  jobQueueUrl: 'JobQueueUrl',
  jobDeadLetterQueueUrl: 'JobDeadLetterQueueUrl',
  sampleQueueUrl: 'SampleQueueUrl',
  createdSecretArns: 'CreatedSecretArns',
  secretsToFill: 'SecretsToFill',
  workerLogGroupName: 'WorkerLogGroupName',
  dispatcherLogGroupName: 'DispatcherLogGroupName',
} as const;

export type OutputKey = keyof typeof OUTPUT_NAMES;

export interface StackOutputs {
  readonly archiveBucketName: string;
  readonly archivePrefix: string;
  readonly accessLogBucketName: string;
  readonly jobQueueUrl: string;
  readonly jobDeadLetterQueueUrl: string;
  readonly sampleQueueUrl: string;
  /** The one secret the test stack creates. */
  readonly secretArn: string;
  readonly secretName: string;
  readonly workerLogGroupName: string;
  readonly dispatcherLogGroupName: string;
}

export class OutputsError extends Error {
  override readonly name = 'OutputsError';
}

/**
 * Whatever outputs can be found (for clean-up, which must work with a partial deployment too).
 * Throws only when the file is not an outputs file at all, or holds a name twice.
 */
export function findOutputs(json: unknown, stackName: string): Partial<Record<OutputKey, string>> {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new OutputsError('the outputs file is not a JSON object');
  }
  const stack = (json as Record<string, unknown>)[stackName];
  if (stack === undefined) return {};
  if (typeof stack !== 'object' || stack === null || Array.isArray(stack)) {
    throw new OutputsError(`the outputs of stack ${stackName} are not a JSON object`);
  }
  const entries = Object.entries(stack as Record<string, unknown>).filter(
    (entry): entry is [string, string] => typeof entry[1] === 'string',
  );
  const found: Partial<Record<OutputKey, string>> = {};
  for (const [key, name] of Object.entries(OUTPUT_NAMES) as [OutputKey, string][]) {
    const pattern = new RegExp(`^(?:[A-Za-z0-9]*?${name}[0-9A-F]{8}|${name})$`);
    const matches = entries.filter(([logicalId]) => pattern.test(logicalId));
    if (matches.length > 1) {
      throw new OutputsError(
        `stack ${stackName} has ${matches.length} outputs named ${name} (${matches.map(([id]) => id).join(', ')})`,
      );
    }
    if (matches.length === 1) found[key] = matches[0]![1];
  }
  return found;
}

/** Every output the run needs; throws an `OutputsError` naming each one missing or malformed. */
export function parseOutputs(json: unknown, stackName: string): StackOutputs {
  const found = findOutputs(json, stackName);
  const problems: string[] = [];
  for (const [key, name] of Object.entries(OUTPUT_NAMES) as [OutputKey, string][]) {
    if (found[key] === undefined || found[key] === '') problems.push(`${name} is missing`);
  }
  const arns = splitList(found.createdSecretArns);
  const names = splitList(found.secretsToFill);
  if (found.createdSecretArns && arns.length !== 1) {
    problems.push(`CreatedSecretArns lists ${arns.length} secrets; the test stack creates exactly one`);
  }
  if (arns[0] !== undefined && !/^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:/.test(arns[0])) {
    problems.push('CreatedSecretArns is not a Secrets Manager secret ARN');
  }
  if (found.secretsToFill && names.length !== 1) {
    problems.push(`SecretsToFill lists ${names.length} secrets; the test stack creates exactly one`);
  }
  for (const key of ['jobQueueUrl', 'jobDeadLetterQueueUrl', 'sampleQueueUrl'] as const) {
    const url = found[key];
    if (url && !/^https:\/\/\S+\/\d{12}\/\S+$/.test(url))
      problems.push(`${OUTPUT_NAMES[key]} is not a queue URL`);
  }
  if (found.jobQueueUrl && !found.jobQueueUrl.endsWith('.fifo')) {
    problems.push('JobQueueUrl is not a FIFO queue URL');
  }
  if (problems.length > 0) {
    throw new OutputsError(`unexpected outputs of stack ${stackName}: ${problems.join('; ')}`);
  }
  return {
    archiveBucketName: found.archiveBucketName!,
    archivePrefix: found.archivePrefix!,
    accessLogBucketName: found.accessLogBucketName!,
    jobQueueUrl: found.jobQueueUrl!,
    jobDeadLetterQueueUrl: found.jobDeadLetterQueueUrl!,
    sampleQueueUrl: found.sampleQueueUrl!,
    secretArn: arns[0]!,
    secretName: names[0]!,
    workerLogGroupName: found.workerLogGroupName!,
    dispatcherLogGroupName: found.dispatcherLogGroupName!,
  };
}

function splitList(value: string | undefined): string[] {
  return (value ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}
