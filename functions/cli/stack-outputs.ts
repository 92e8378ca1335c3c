import type { CloudFormationClient, Output } from '@aws-sdk/client-cloudformation';
import type * as CloudFormationSdk from '@aws-sdk/client-cloudformation';
import { describeSdkError, errorName } from '../adapters/sdk-errors';
import { UsageError } from './command-args';

/**
 * The outputs of a deployed stack, by one DescribeStacks (`--stack` of `replay` and `mailboxes`).
 * A stack that is not there is a UsageError naming it and the region; any other failure says
 * what the SDK said.
 */
export async function stackOutputs(
  client: CloudFormationClient,
  stack: string,
  region: string | undefined,
): Promise<Output[]> {
  // Loaded on first use: a command without --stack never loads the CloudFormation client's module.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { DescribeStacksCommand } = require('@aws-sdk/client-cloudformation') as typeof CloudFormationSdk;
  try {
    const described = await client.send(new DescribeStacksCommand({ StackName: stack }));
    return described.Stacks?.[0]?.Outputs ?? [];
  } catch (error) {
    // CloudFormation answers a missing stack with ValidationError "Stack with id X does not exist".
    if (errorName(error) === 'ValidationError' && /does not exist/.test(String((error as Error).message))) {
      throw new UsageError(
        `stack "${stack}" not found${region ? ` in ${region}` : ''} (check --stack and --region)`,
      );
    }
    throw new Error(`describing stack "${stack}" failed: ${describeSdkError(error)}`, { cause: error });
  }
}

/**
 * The outputs called `name`: the stack's own (`ArchiveBucketName`), or a construct's, whose logical
 * id is the construct path plus a hash (`PollerArchiveBucketName1A2B3C4D`).
 */
export function outputsNamed(outputs: readonly Output[], name: string): Output[] {
  const pattern = new RegExp(`^(?:[A-Za-z0-9]*${name}[0-9A-F]{8}|${name})$`);
  return outputs.filter((o) => o.OutputKey !== undefined && pattern.test(o.OutputKey));
}
