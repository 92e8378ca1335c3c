import { readFileSync } from 'node:fs';
import { CloudFormationClient, type Output } from '@aws-sdk/client-cloudformation';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { DynamoDbRegistry } from '../../adapters/dynamodb-registry';
import { SharedSecretFiller } from '../../adapters/shared-secret-filler';
import { UsageError } from '../command-args';
import { outputsNamed, stackOutputs } from '../stack-outputs';

/** What the `mailboxes` commands need from the outside world; tests pass their own. */
export interface MailboxesIo {
  readonly stdout: { write(text: string): unknown };
  readonly stderr: { write(text: string): unknown };
  /** All of standard input (for `--password-stdin`). */
  readStdin(): Promise<string>;
  readFile(path: string): string;
  /** SDK clients for a region (undefined: the SDK's default chain). Created once per command. */
  readonly clients: {
    dynamodb(region: string | undefined): DynamoDBClient;
    secretsManager(region: string | undefined): SecretsManagerClient;
    cloudFormation(region: string | undefined): CloudFormationClient;
  };
}

const regionOf = (region: string | undefined) => (region !== undefined ? { region } : {});

export const defaultIo: MailboxesIo = {
  stdout: process.stdout,
  stderr: process.stderr,
  readStdin: async () => {
    const chunks: Buffer[] = [];
    for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks).toString('utf8');
  },
  readFile: (path) => readFileSync(path, 'utf8'),
  clients: {
    dynamodb: (region) => new DynamoDBClient(regionOf(region)),
    secretsManager: (region) => new SecretsManagerClient(regionOf(region)),
    cloudFormation: (region) => new CloudFormationClient(regionOf(region)),
  },
};

/** Where the registry and the shared secrets are: `--stack`, or `--table` and `--secret-prefix`. */
export interface TargetOptions {
  readonly stack?: string;
  readonly table?: string;
  readonly secretPrefix?: string;
  readonly region?: string;
}

export interface Target {
  readonly table: string;
  /** Absent with `--table` and no `--secret-prefix`. */
  readonly secretPrefix?: string;
  /**
   * The stack's schedule group names (its ScheduleGroups output). Absent with `--table`, or with a
   * stack deployed before that output existed: then a record's `schedule` cannot be checked.
   */
  readonly groups?: readonly string[];
}

/** The stack outputs the CLI reads (infra/constructs/registry.ts, infra/constructs/secrets.ts). */
export const TABLE_OUTPUT = 'RegistryTableName';
export const PREFIX_OUTPUT = 'SecretNamePrefix';
/** A JSON array of the stack's schedule group names (infra/constructs/scheduling.ts). */
export const GROUPS_OUTPUT = 'ScheduleGroups';

/**
 * Checks the target options without calling AWS: exactly one of `--stack` and `--table`, and a
 * secret prefix known (from the stack, or `--secret-prefix`) when `needsPrefix`.
 */
export function checkTargetOptions(command: string, options: TargetOptions, needsPrefix: boolean): void {
  if (options.stack !== undefined && options.table !== undefined) {
    throw new UsageError(`mailboxes ${command}: give --stack or --table, not both`);
  }
  if (options.stack === undefined && options.table === undefined) {
    throw new UsageError(
      `mailboxes ${command} needs --stack NAME (or --table NAME [--secret-prefix PREFIX])`,
    );
  }
  if (options.stack !== undefined && options.secretPrefix !== undefined) {
    throw new UsageError(`mailboxes ${command}: --secret-prefix goes with --table; the stack names its own`);
  }
  if (needsPrefix && options.table !== undefined && options.secretPrefix === undefined) {
    throw new UsageError(
      `mailboxes ${command}: passwords go into shared secrets: give --secret-prefix PREFIX (the stack's ${PREFIX_OUTPUT} output) with --table`,
    );
  }
}

/** A command's AWS side, each piece made on first use; the stack is described at most once. */
export class MailboxesContext {
  private target?: Promise<Target>;
  private registryInstance?: DynamoDbRegistry;

  constructor(
    readonly io: MailboxesIo,
    readonly options: TargetOptions,
  ) {}

  resolve(): Promise<Target> {
    this.target ??= this.describe();
    return this.target;
  }

  async registry(): Promise<DynamoDbRegistry> {
    const { table } = await this.resolve();
    this.registryInstance ??= new DynamoDbRegistry(this.io.clients.dynamodb(this.options.region), table);
    return this.registryInstance;
  }

  /** A filler for the target's shared secrets, or undefined when no prefix is known. */
  async filler(): Promise<SharedSecretFiller | undefined> {
    const { secretPrefix } = await this.resolve();
    if (secretPrefix === undefined) return undefined;
    return new SharedSecretFiller(this.io.clients.secretsManager(this.options.region), secretPrefix);
  }

  private async describe(): Promise<Target> {
    const { stack, table, secretPrefix } = this.options;
    if (stack === undefined) {
      return { table: table!, ...(secretPrefix !== undefined ? { secretPrefix } : {}) };
    }
    const client = this.io.clients.cloudFormation(this.options.region);
    const outputs = await stackOutputs(client, stack, this.options.region);
    const groups = groupsOutput(stack, outputs);
    return {
      table: output(stack, outputs, TABLE_OUTPUT),
      secretPrefix: output(stack, outputs, PREFIX_OUTPUT),
      ...(groups ? { groups } : {}),
    };
  }
}

/** The ScheduleGroups output's names; undefined when the stack predates it. */
function groupsOutput(stack: string, outputs: readonly Output[]): string[] | undefined {
  if (outputsNamed(outputs, GROUPS_OUTPUT).length === 0) return undefined;
  const text = output(stack, outputs, GROUPS_OUTPUT);
  let names: unknown;
  try {
    names = JSON.parse(text);
  } catch {
    names = undefined;
  }
  if (!Array.isArray(names) || !names.every((n) => typeof n === 'string')) {
    throw new UsageError(`stack "${stack}" has a ${GROUPS_OUTPUT} output that is not a JSON array of names`);
  }
  return names as string[];
}

/**
 * Records whose `schedule` names no group of the stack: no schedule would ever take them. Empty
 * when the groups are unknown (`--table`, or an older stack), or every schedule is a group.
 */
export function unknownSchedules(
  records: readonly { readonly id: string; readonly schedule?: string | undefined }[],
  groups: readonly string[] | undefined,
): { readonly id: string; readonly schedule: string }[] {
  if (groups === undefined) return [];
  const known = new Set(groups);
  return records.flatMap((r) =>
    r.schedule !== undefined && !known.has(r.schedule) ? [{ id: r.id, schedule: r.schedule }] : [],
  );
}

/** An output's value, by its name (stack-outputs.ts). */
function output(stack: string, outputs: readonly Output[], name: string): string {
  const found = outputsNamed(outputs, name);
  if (found.length === 0 || !found[0]!.OutputValue) {
    throw new UsageError(
      `stack "${stack}" has no ${name} output (is it a pop3-poller stack with the registry?)`,
    );
  }
  if (found.length > 1) {
    throw new UsageError(
      `stack "${stack}" has ${found.length} ${name} outputs (${found.map((o) => o.OutputKey).join(', ')}): give --table and --secret-prefix`,
    );
  }
  return found[0]!.OutputValue!;
}
