import type { CloudFormationClient, Output } from '@aws-sdk/client-cloudformation';
import { UsageError } from './command-args';
import { outputsNamed, stackOutputs } from './stack-outputs';

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
  const outputs = await stackOutputs(client, stack, region);
  return {
    bucket: output(stack, outputs, BUCKET_OUTPUT),
    prefix: output(stack, outputs, PREFIX_OUTPUT, true),
    eventBus: output(stack, outputs, BUS_OUTPUT),
  };
}

/** An output's value, by its name (stack-outputs.ts). */
function output(stack: string, outputs: readonly Output[], name: string, mayBeEmpty = false): string {
  const found = outputsNamed(outputs, name);
  if (found.length !== 1 || (!found[0]!.OutputValue && !mayBeEmpty)) {
    throw new UsageError(
      found.length > 1
        ? `stack "${stack}" has ${found.length} ${name} outputs: give --bucket, --prefix and --event-bus instead`
        : `stack "${stack}" has no ${name} output (is it a pop3-poller stack?)`,
    );
  }
  return found[0]!.OutputValue ?? '';
}
