/**
 * End-to-end test on a real AWS account — opt-in, never run by CI.
 *
 *   npx tsx scripts/aws-e2e.ts            # or: npm run e2e:aws
 *   npx tsx scripts/aws-e2e.ts --help
 *   npx tsx scripts/aws-e2e.ts --synth-only   # offline: the test stack's template, no AWS, no mailbox
 *
 * It deploys a throw-away stack `Pop3E2E-<random>` polling one test mailbox, lets it poll once, checks
 * the archive and the events, and removes everything again:
 *
 *   1. POP3 STAT/UIDL on the test mailbox (fails fast on wrong credentials; says what to expect).
 *   2. `cdk deploy` of a deployment file (-c configFile=…, infra/config-file.ts): one account whose
 *      secret the stack creates, its schedule disabled, the example rule's sample queue on.
 *   3. PutSecretValue: the mailbox's JSON into the created secret (never printed, never on disk).
 *   4. SendMessage: one poll job on the FIFO job queue (what the dispatcher would send).
 *   5. Waits until the sample queue has one "Message Archived" event per message and the archive
 *      bucket an object per distinct message; then checks each object against its event (S3's
 *      ChecksumSHA256, the sha256 metadata, size, the bytes read back), the UIDLs, and that the
 *      mailbox is empty (delete mode).
 *   6. Always, even after a failure or Ctrl-C: `cdk destroy --force`, then the RETAINed archive and
 *      access-log buckets emptied (every version and delete marker) and deleted, and the created
 *      secret deleted without recovery window. The Lambda log groups are kept for diagnosis; the
 *      summary prints how to delete them.
 *
 * The test mailbox must be one you can fill and that nothing else reads: the run DELETES every
 * message in it (after archiving it to the test bucket, which is deleted too). Seed it before each
 * run (docs/deploy.md shows how, e.g. with curl over SMTP); the script does not send mail.
 *
 * Settings are environment variables (see --help): E2E_POP3_HOST, E2E_POP3_PORT, E2E_POP3_TLS,
 * E2E_POP3_USERNAME, E2E_POP3_PASSWORD, E2E_POP3_CA_FILE, E2E_EXPECT_MESSAGES, E2E_TIMEOUT_SECONDS,
 * and the usual AWS ones (AWS_REGION or AWS_DEFAULT_REGION, AWS_PROFILE or other credentials).
 * The account and region must be CDK-bootstrapped (`npx cdk bootstrap`).
 *
 * Exit code 0: every check passed and everything was removed; 1: a check failed or something was
 * left behind (listed); 2: bad arguments or settings.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { S3Client } from '@aws-sdk/client-s3';
import { PutSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { PollJob } from '../functions/handlers/contract';
import { CONFIG_FILE_CONTEXT } from '../infra/config-file';
import { deleteSecretNow, emptyAndDeleteBucket, findStackBuckets, stopAccessLogging } from './e2e/cleanup';
import { inspectMailbox, waitForEmptyMailbox, type MailboxSnapshot } from './e2e/mailbox';
import { findOutputs, OUTPUT_NAMES, parseOutputs, type OutputKey } from './e2e/outputs';
import {
  childEnvironment,
  E2E_ACCOUNT_ID,
  e2eDeployment,
  e2eSecretName,
  E2eSettingsError,
  makeStackName,
  readSettings,
  readSynthSettings,
  secretString,
  VARIABLES,
  type E2eSettings,
} from './e2e/settings';
import { mailboxCheck, verifyArchive, waitForArchive, type Check } from './e2e/verify';

const ROOT = join(__dirname, '..');
const CDK_BIN = join(ROOT, 'node_modules', 'aws-cdk', 'bin', 'cdk');

export const USAGE = `Usage: npx tsx scripts/aws-e2e.ts [--synth-only] [--help]

End-to-end test on a real AWS account (opt-in, not run by CI): deploys a throw-away stack
Pop3E2E-<random>, polls a test mailbox once, checks the S3 archive and the "Message Archived"
events, then destroys the stack and deletes its retained buckets and secret.

THE RUN DELETES EVERY MESSAGE IN THE TEST MAILBOX. Use a mailbox of its own, seeded beforehand.

Options:
  --synth-only   Only synthesize the test stack (offline: no AWS, no mailbox) and check its outputs.
  --help         This text.

Environment:
${VARIABLES.map(([name, meaning]) => `  ${name.padEnd(21)} ${meaning}`).join('\n')}
  AWS_REGION            region to deploy in (or AWS_DEFAULT_REGION; required)
  AWS_PROFILE           credentials profile (or any other way the AWS SDK finds credentials)

The account and region must be bootstrapped once: npx cdk bootstrap.
Exit code: 0 pass, 1 failure or resources left behind (listed), 2 bad arguments or settings.
`;

export interface Args {
  readonly help: boolean;
  readonly synthOnly: boolean;
}

export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export function parseArgs(argv: readonly string[]): Args {
  let help = false;
  let synthOnly = false;
  for (const arg of argv) {
    if (arg === '--help' || arg === '-h') help = true;
    else if (arg === '--synth-only') synthOnly = true;
    else throw new UsageError(`unknown argument ${JSON.stringify(arg)} (see --help)`);
  }
  return { help, synthOnly };
}

const say = (line: string): void => void process.stdout.write(`[e2e] ${line}\n`);

/** Runs the project's CDK CLI with the output streamed; resolves with its exit code. */
function runCdk(args: readonly string[], env: Record<string, string>): Promise<number> {
  say(`cdk ${args.join(' ')}`);
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CDK_BIN, ...args], { cwd: ROOT, env, stdio: 'inherit' });
    child.once('error', (error) => {
      say(`could not start the CDK CLI: ${error.message}`);
      resolve(127);
    });
    child.once('exit', (code, signal) => resolve(code ?? (signal ? 128 : 1)));
  });
}

function cdkCommon(work: Work): string[] {
  return ['--output', work.cdkOut, '-c', `${CONFIG_FILE_CONTEXT}=${work.configFile}`];
}

interface Work {
  readonly dir: string;
  readonly configFile: string;
  readonly outputsFile: string;
  readonly cdkOut: string;
}

function prepare(stackName: string, caPem: string | undefined): Work {
  const dir = mkdtempSync(join(tmpdir(), 'pop3-poller-e2e-'));
  const work = {
    dir,
    configFile: join(dir, 'deployment.json'),
    outputsFile: join(dir, 'outputs.json'),
    cdkOut: join(dir, 'cdk.out'),
  };
  writeFileSync(work.configFile, `${JSON.stringify(e2eDeployment(stackName, caPem), null, 2)}\n`);
  return work;
}

const describe = (error: unknown): string =>
  error instanceof Error
    ? `${error.name === 'Error' ? '' : `${error.name}: `}${error.message}`
    : String(error);

const seconds = (ms: number): string => `${Math.round(ms / 1000)} s`;

/** `--synth-only`: the test stack's template, offline, and the outputs the run relies on. */
async function synthOnly(env: NodeJS.ProcessEnv): Promise<number> {
  const settings = readSynthSettings(env);
  const stackName = makeStackName();
  const work = prepare(stackName, settings.caPem);
  try {
    const code = await runCdk(
      ['synth', stackName, '--quiet', ...cdkCommon(work)],
      childEnvironment(env, undefined),
    );
    if (code !== 0) {
      say(`FAIL: cdk synth exited with ${code}`);
      return 1;
    }
    const template = JSON.parse(readFileSync(join(work.cdkOut, `${stackName}.template.json`), 'utf8')) as {
      Resources?: Record<string, unknown>;
      Outputs?: Record<string, unknown>;
    };
    const outputIds = Object.keys(template.Outputs ?? {});
    const found = findOutputs(
      { [stackName]: Object.fromEntries(outputIds.map((id) => [id, id])) },
      stackName,
    );
    const missing = (Object.keys(OUTPUT_NAMES) as OutputKey[]).filter((k) => found[k] === undefined);
    say(
      `stack ${stackName}: ${Object.keys(template.Resources ?? {}).length} resources, ${outputIds.length} outputs`,
    );
    if (missing.length > 0) {
      say(`FAIL: outputs missing: ${missing.map((k) => OUTPUT_NAMES[k]).join(', ')}`);
      return 1;
    }
    say('PASS: the test stack synthesizes and has every output the run reads');
    return 0;
  } finally {
    rmSync(work.dir, { recursive: true, force: true });
  }
}

interface Step extends Check {
  readonly ms?: number;
}

interface CleanupItem {
  readonly what: string;
  /** `false`: something may be left behind; `detail` says what to do. */
  readonly ok: boolean;
  readonly detail: string;
}

/** What a run talks to; the tests replace them. */
export interface RunDeps {
  readonly runCdk: (args: readonly string[], env: Record<string, string>) => Promise<number>;
  readonly s3: S3Client;
  readonly sqs: SQSClient;
  readonly secrets: SecretsManagerClient;
}

function awsDeps(region: string): RunDeps {
  return {
    runCdk,
    s3: new S3Client({ region }),
    sqs: new SQSClient({ region }),
    secrets: new SecretsManagerClient({ region }),
  };
}

/** The run proper (steps 1-6 above); resolves with the exit code. */
export async function run(
  settings: E2eSettings,
  env: NodeJS.ProcessEnv,
  deps: RunDeps = awsDeps(settings.region),
): Promise<number> {
  const steps: Step[] = [];
  const timed = async <T>(name: string, what: () => Promise<T>, detail: (value: T) => string): Promise<T> => {
    const started = Date.now();
    const value = await what();
    steps.push({ name, ok: true, detail: detail(value), ms: Date.now() - started });
    return value;
  };

  // 1. The mailbox, before anything is deployed.
  say(
    `checking the test mailbox ${settings.pop3.username} at ${settings.pop3.host}:${settings.pop3.port} (${settings.pop3.tls} TLS)`,
  );
  let before: MailboxSnapshot;
  try {
    before = await inspectMailbox(settings.pop3);
  } catch (error) {
    say(`FAIL before deploying anything: the test mailbox cannot be read: ${describe(error)}`);
    return 1;
  }
  const expected = settings.expectMessages ?? before.count;
  if (before.count === 0) {
    say(
      'FAIL before deploying anything: the test mailbox is empty; put a few messages in it first (docs/deploy.md)',
    );
    return 1;
  }
  if (before.count !== expected) {
    say(
      `FAIL before deploying anything: the test mailbox holds ${before.count} message(s), ` +
        `E2E_EXPECT_MESSAGES says ${expected}`,
    );
    return 1;
  }
  steps.push({
    name: 'mailbox before',
    ok: true,
    detail: `${before.count} message(s), ${before.size} bytes${before.uidls ? '' : ' (no UIDL support)'}`,
  });

  const stackName = makeStackName();
  const work = prepare(stackName, settings.pop3.caPem);
  const cdkEnv = childEnvironment(env, settings.region);
  const { s3, sqs, secrets } = deps;
  const abort = new AbortController();
  let interrupts = 0;
  const onSigint = () => {
    interrupts += 1;
    if (interrupts > 1) {
      say(`interrupted twice: exiting WITHOUT cleaning up; stack ${stackName} and its buckets may remain`);
      process.exit(130);
    }
    say('interrupted: stopping and cleaning up (Ctrl-C again to exit without cleaning up)');
    abort.abort();
  };
  process.on('SIGINT', onSigint);
  say(`stack ${stackName} in ${settings.region}${settings.profile ? ` (profile ${settings.profile})` : ''}`);

  let failure: string | undefined;
  let cleanup: CleanupItem[] = [];
  try {
    // 2. Deploy.
    const deployed = await timed(
      'deploy',
      async () => {
        const code = await deps.runCdk(
          [
            'deploy',
            stackName,
            '--require-approval',
            'never',
            '--progress',
            'events',
            '--outputs-file',
            work.outputsFile,
            ...cdkCommon(work),
          ],
          cdkEnv,
        );
        if (code !== 0) throw new Error(`cdk deploy exited with ${code}`);
        return parseOutputs(JSON.parse(readFileSync(work.outputsFile, 'utf8')), stackName);
      },
      () => `stack ${stackName} deployed`,
    );
    if (abort.signal.aborted) throw new Error('interrupted');

    // 3. The mailbox's credentials into the created secret.
    await timed(
      'secret filled',
      () =>
        secrets.send(
          new PutSecretValueCommand({
            SecretId: deployed.secretArn,
            SecretString: secretString(settings.pop3),
          }),
        ),
      () => `PutSecretValue on ${deployed.secretName}`,
    );

    // 4. One poll job, as the dispatcher would enqueue it.
    const job: PollJob = { accountId: E2E_ACCOUNT_ID, secretId: deployed.secretName };
    await timed(
      'job sent',
      () =>
        sqs.send(
          new SendMessageCommand({
            QueueUrl: deployed.jobQueueUrl,
            MessageBody: JSON.stringify(job),
            MessageGroupId: E2E_ACCOUNT_ID,
            MessageDeduplicationId: `${E2E_ACCOUNT_ID}@e2e-${Date.now()}`,
          }),
        ),
      () => `poll job for account "${E2E_ACCOUNT_ID}" on the job queue`,
    );

    // 5. Wait, then check.
    say(`waiting up to ${settings.timeoutSeconds} s for ${expected} event(s) and their objects`);
    const prefix = deployed.archivePrefix;
    const waited = await waitForArchive({
      s3,
      sqs,
      bucket: deployed.archiveBucketName,
      objectPrefix: `${prefix}${E2E_ACCOUNT_ID}/`,
      sampleQueueUrl: deployed.sampleQueueUrl,
      deadLetterQueueUrl: deployed.jobDeadLetterQueueUrl,
      expectedMessages: expected,
      timeoutMs: settings.timeoutSeconds * 1000,
      signal: abort.signal,
      log: say,
    });
    const hint = `see the worker's logs: log group ${deployed.workerLogGroupName}`;
    steps.push({
      name: 'archived in time',
      ok: waited.outcome === 'complete',
      ms: waited.elapsedMs,
      detail: {
        complete: `${waited.events.length} event(s) and ${waited.objects.length} object(s) after ${seconds(waited.elapsedMs)}`,
        timeout: `only ${waited.events.length} event(s) and ${waited.objects.length} object(s) after ${seconds(waited.elapsedMs)}; ${hint}`,
        'dead-letter': `the job landed in the job dead-letter queue; ${hint}`,
        aborted: 'interrupted',
      }[waited.outcome],
    });
    steps.push(
      ...(await verifyArchive({
        s3,
        bucket: deployed.archiveBucketName,
        prefix,
        accountId: E2E_ACCOUNT_ID,
        events: waited.events,
        objects: waited.objects,
        ignored: waited.ignored,
        expectedMessages: expected,
        ...(before.uidls ? { uidlsBefore: before.uidls } : {}),
      })),
    );
    if (!abort.signal.aborted) {
      const after = await waitForEmptyMailbox(settings.pop3, {
        timeoutMs: waited.outcome === 'complete' ? 90_000 : 0,
      });
      steps.push(mailboxCheck(after));
    }
  } catch (error) {
    failure = describe(error);
  } finally {
    cleanup = await cleanUp({ stackName, work, cdkEnv, deps });
    process.off('SIGINT', onSigint);
  }
  return summary(stackName, steps, failure, cleanup);
}

async function cleanUp(ctx: {
  stackName: string;
  work: Work;
  cdkEnv: Record<string, string>;
  deps: RunDeps;
}): Promise<CleanupItem[]> {
  const { stackName, work } = ctx;
  const { s3, secrets } = ctx.deps;
  const items: CleanupItem[] = [];
  say('cleaning up');
  let found: Partial<Record<OutputKey, string>> = {};
  try {
    if (existsSync(work.outputsFile))
      found = findOutputs(JSON.parse(readFileSync(work.outputsFile, 'utf8')), stackName);
  } catch (error) {
    say(`the outputs file is unreadable (${describe(error)}); looking the buckets up by tag`);
  }

  const code = await ctx.deps.runCdk(['destroy', stackName, '--force', ...cdkCommon(work)], ctx.cdkEnv);
  items.push({
    what: `cdk destroy ${stackName}`,
    ok: code === 0,
    detail:
      code === 0
        ? 'stack deleted'
        : `exited with ${code}: delete stack ${stackName} in the CloudFormation console, then the buckets below`,
  });

  // The RETAINed buckets: from the outputs, and by their CloudFormation tag if the deploy failed.
  const buckets = new Set(
    [found.archiveBucketName, found.accessLogBucketName].filter((b): b is string => !!b),
  );
  try {
    for (const bucket of await findStackBuckets(s3, stackName)) buckets.add(bucket);
  } catch (error) {
    items.push({
      what: 'looking up the stack’s buckets',
      ok: false,
      detail: `${describe(error)}: look for buckets named ${stackName.toLowerCase()}-* in the S3 console`,
    });
  }
  // The access-log bucket last: emptying the archive bucket is logged into it.
  const ordered = [...buckets].sort(
    (a, b) => Number(a === found.accessLogBucketName) - Number(b === found.accessLogBucketName),
  );
  for (const bucket of ordered) {
    if (bucket !== found.accessLogBucketName) await stopAccessLogging(s3, bucket);
    try {
      const removal = await emptyAndDeleteBucket(s3, bucket);
      items.push({
        what: `bucket ${bucket}`,
        ok: true,
        detail:
          removal.outcome === 'absent' ? 'already gone' : `deleted with ${removal.removed} object version(s)`,
      });
    } catch (error) {
      items.push({
        what: `bucket ${bucket}`,
        ok: false,
        detail: `${describe(error)}: empty it in the S3 console (Empty removes every version), then delete it`,
      });
    }
  }

  const secretId = found.createdSecretArns?.split(',')[0]?.trim() || e2eSecretName(stackName);
  try {
    const outcome = await deleteSecretNow(secrets, secretId);
    items.push({
      what: `secret ${e2eSecretName(stackName)}`,
      ok: true,
      detail: outcome === 'deleted' ? 'deleted without recovery window' : 'never created',
    });
  } catch (error) {
    items.push({
      what: `secret ${e2eSecretName(stackName)}`,
      ok: false,
      detail: `${describe(error)}: aws secretsmanager delete-secret --force-delete-without-recovery --secret-id ${secretId}`,
    });
  }

  const logGroups = [found.workerLogGroupName, found.dispatcherLogGroupName].filter((g): g is string => !!g);
  items.push({
    what: 'log groups (kept for diagnosis)',
    ok: true,
    detail:
      logGroups.length > 0
        ? logGroups.map((g) => `aws logs delete-log-group --log-group-name ${g}`).join('; ')
        : `any named ${stackName}-*: aws logs describe-log-groups --log-group-name-prefix ${stackName}-`,
  });
  rmSync(work.dir, { recursive: true, force: true });
  return items;
}

function summary(
  stackName: string,
  steps: readonly Step[],
  failure: string | undefined,
  cleanup: readonly CleanupItem[],
): number {
  const passed = failure === undefined && steps.length > 0 && steps.every((s) => s.ok);
  const cleaned = cleanup.every((c) => c.ok);
  const lines = [
    '',
    `==== POP3 poller end-to-end test, stack ${stackName} ====`,
    ...steps.map(
      (s) =>
        `  ${s.ok ? 'PASS' : 'FAIL'}  ${s.name.padEnd(18)} ${s.detail}${s.ms !== undefined ? ` [${seconds(s.ms)}]` : ''}`,
    ),
    ...(failure !== undefined ? [`  FAIL  ${'run stopped'.padEnd(18)} ${failure}`] : []),
    'Clean-up:',
    ...cleanup.map((c) => `  ${c.ok ? 'done' : 'LEFT'}  ${c.what}: ${c.detail}`),
    '',
    `RESULT: ${passed ? 'PASS' : 'FAIL'}${cleaned ? '' : ' — and resources were left behind (LEFT above)'}`,
    '',
  ];
  process.stdout.write(lines.join('\n'));
  return passed && cleaned ? 0 : 1;
}

export async function main(argv: readonly string[], env: NodeJS.ProcessEnv): Promise<number> {
  let args: Args;
  try {
    args = parseArgs(argv);
  } catch (error) {
    process.stderr.write(`${describe(error)}\n`);
    return 2;
  }
  if (args.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  if (!existsSync(CDK_BIN)) {
    process.stderr.write(`The CDK CLI is not installed (${CDK_BIN}): run npm install first.\n`);
    return 2;
  }
  try {
    if (args.synthOnly) return await synthOnly(env);
    return await run(readSettings(env), env);
  } catch (error) {
    if (error instanceof E2eSettingsError) {
      process.stderr.write(`${error.message}\n\nSee: npx tsx scripts/aws-e2e.ts --help\n`);
      return 2;
    }
    throw error;
  }
}

if (require.main === module) {
  main(process.argv.slice(2), process.env).then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      process.stderr.write(`[e2e] unexpected failure: ${describe(error)}\n`);
      process.exitCode = 1;
    },
  );
}
