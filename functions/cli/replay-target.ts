import type { CloudFormationClient, Output } from '@aws-sdk/client-cloudformation';
import type * as CloudFormationSdk from '@aws-sdk/client-cloudformation';
import { describeSdkError, errorName } from '../adapters/sdk-errors';
import { UsageError } from './command-args';

/** What `replay --stack` reads from the stack's outputs (infra/pop3-poller.ts). */
export interface StackArchive {
  readonly bucket: string;
  readonly prefix: string;
  readonly eventBus: string;
}

export const BUCKET_OUTPUT = 'ArchiveBucketName';
export const PREFIX_OUTPUT = 'ArchivePrefix';
export const BUS_OUTPUT = 'EventBusName';

/** The archive bucket, its prefix and the event bus of a deployed stack (one DescribeStacks). */
export async function stackArchive(
  client: CloudFormationClient,
  stack: string,
  region: string | undefined,
): Promise<StackArchive> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded only for --stack
  const { DescribeStacksCommand } = require('@aws-sdk/client-cloudformation') as typeof CloudFormationSdk;
  let outputs: Output[];
  try {
    const described = await client.send(new DescribeStacksCommand({ StackName: stack }));
    outputs = described.Stacks?.[0]?.Outputs ?? [];
  } catch (error) {
    // CloudFormation answers a missing stack with ValidationError "Stack with id X does not exist".
    if (errorName(error) === 'ValidationError' && /does not exist/.test(String((error as Error).message))) {
      throw new UsageError(
        `stack "${stack}" not found${region ? ` in ${region}` : ''} (check --stack and --region)`,
      );
    }
    throw new Error(`describing stack "${stack}" failed: ${describeSdkError(error)}`, { cause: error });
  }
  return {
    bucket: output(stack, outputs, BUCKET_OUTPUT),
    prefix: output(stack, outputs, PREFIX_OUTPUT, true),
    eventBus: output(stack, outputs, BUS_OUTPUT),
  };
}

/**
 * An output's value, by its name: the stack's own (`ArchiveBucketName`) or a construct's, whose
 * logical id is the construct path plus a hash (`PollerArchiveBucketName1A2B3C4D`).
 */
function output(stack: string, outputs: readonly Output[], name: string, mayBeEmpty = false): string {
  const pattern = new RegExp(`^(?:[A-Za-z0-9]*${name}[0-9A-F]{8}|${name})$`);
  const found = outputs.filter((o) => o.OutputKey !== undefined && pattern.test(o.OutputKey));
  if (found.length !== 1 || (!found[0]!.OutputValue && !mayBeEmpty)) {
    throw new UsageError(
      found.length > 1
        ? `stack "${stack}" has ${found.length} ${name} outputs: give --bucket, --prefix and --event-bus instead`
        : `stack "${stack}" has no ${name} output (is it a pop3-poller stack?)`,
    );
  }
  return found[0]!.OutputValue ?? '';
}
