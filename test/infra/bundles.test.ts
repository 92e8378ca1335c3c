import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { sharedSecretName } from '../../functions/adapters/shared-secret';
import type { DispatchInput } from '../../functions/handlers/contract';
import { shardOf } from '../../functions/handlers/shards';
import { encodeRecord, REGISTRY_ITEM } from '../../functions/registry/record';
import { startAwsStub, type AwsStub } from '../support/aws-stub';
import { DovecotServer } from '../support/dovecot';
import { sqsRecord } from '../support/lambda-harness';
import { makeMessage, sha256 } from '../support/poll-fixtures';
import { tempDir } from '../support/temp';
import { describeWithDovecot } from '../support/with-dovecot';
import {
  emptyBatchCalls,
  mailBatchCalls,
  messageEventCalls,
  messageEventCallsRange,
  type MailBatch,
} from '../support/worker-calls';

/**
 * The bundles `cdk synth` produced, run as Lambda would run them: each in a child `node` that
 * requires `cdk.out/<asset>/index.js` and calls the export the function's `Handler` names, with
 * the environment the template gives the function, against the local AWS stub (AWS_ENDPOINT_URL_*)
 * and a real Dovecot over implicit TLS. A registry tick end to end: the dispatcher bundle scans the
 * registry and enqueues a batch job; the worker bundle polls it. Counted: the AWS calls of an empty
 * tick and of one with mail.
 *
 * CI (.ci/run) synthesizes before the tests, so this runs what would be deployed. Locally, a
 * missing cdk.out — or one older than the sources — is synthesized first (offline, ~15 s).
 *
 * The bundles leave `@aws-sdk/*` and `@smithy/*` out (infra/bundling.ts: the Lambda runtime
 * provides them). They are run in place: cdk.out lies inside the project, so Node's own lookup
 * (cdk.out/asset.X/node_modules, cdk.out/node_modules, <root>/node_modules) finds the SDK in the
 * project's node_modules, at the versions package-lock.json pins — no NODE_PATH, no copy. Because
 * that lookup would also find any other package a bundle wrongly left external, the child refuses
 * every bare import from the bundle other than Node's built-ins, `@aws-sdk/*` and `@smithy/*`: what
 * the Lambda runtime would not provide fails here too.
 */

const run = promisify(execFile);
const ROOT = path.resolve(__dirname, '../..');
const CDK_OUT = path.join(ROOT, 'cdk.out');

/** The child: a stand-in for the Lambda runtime's bootstrap, one or more invocations in one environment. */
const RUNNER = String.raw`
const Module = require('node:module');
const fs = require('node:fs');
const { randomUUID } = require('node:crypto');
const [bundle, exportName, eventsFile, resultFile, timeoutMs, functionName] = process.argv.slice(1);
const provided = (request) =>
  request.startsWith('node:') || Module.isBuiltin(request) ||
  request.startsWith('@aws-sdk/') || request.startsWith('@smithy/') ||
  request.startsWith('.') || request.startsWith('/');
const resolve = Module._resolveFilename;
Module._resolveFilename = function (request, parent, ...rest) {
  if (parent && parent.filename === bundle && !provided(request))
    throw new Error('the bundle requires ' + request + ', which the Lambda runtime does not provide');
  return resolve.call(this, request, parent, ...rest);
};
(async () => {
  const fn = require(bundle)[exportName];
  if (typeof fn !== 'function') throw new Error('the bundle exports no function ' + exportName);
  const results = [];
  for (const event of JSON.parse(fs.readFileSync(eventsFile, 'utf8'))) {
    const endsAt = Date.now() + Number(timeoutMs);
    const context = {
      callbackWaitsForEmptyEventLoop: true, functionName, functionVersion: '$LATEST',
      invokedFunctionArn: 'arn:aws:lambda:us-east-1:000000000000:function:' + functionName,
      memoryLimitInMB: '1024', awsRequestId: randomUUID(), logGroupName: '/aws/lambda/' + functionName,
      logStreamName: 'bundles-test', getRemainingTimeInMillis: () => Math.max(0, endsAt - Date.now()),
      done() {}, fail() {}, succeed() {},
    };
    try {
      results.push({ ok: await fn(event, context) });
    } catch (error) {
      results.push({ error: String((error && error.stack) || error) });
    }
  }
  fs.writeFileSync(resultFile, JSON.stringify(results));
})().catch((e) => { process.stderr.write(String((e && e.stack) || e)); process.exit(1); });
`;

interface LambdaFunction {
  readonly name: 'Worker' | 'Dispatcher';
  /** The bundle file, `cdk.out/<aws:asset:path>/<file of Handler>.js`. */
  readonly bundle: string;
  readonly exportName: string;
  readonly timeoutSeconds: number;
  readonly memoryMb: number;
  /** e.g. `nodejs24.x` */
  readonly runtime: string;
  /** Environment.Variables as in the template; references left unresolved. */
  readonly variables: Readonly<Record<string, unknown>>;
}

interface Synthesized {
  readonly worker: LambdaFunction;
  readonly dispatcher: LambdaFunction;
  /** The default schedule group's input, as Scheduler would pass it (scheduled time still a placeholder). */
  readonly defaultInput: DispatchInput;
}

/** Runs `cdk synth` unless cdk.out is there and newer than everything that goes into it. */
async function ensureSynthesized(): Promise<void> {
  const manifest = path.join(CDK_OUT, 'manifest.json');
  const newestSource = Math.max(
    ...['functions', 'infra'].map((dir) => newestMtime(path.join(ROOT, dir))),
    ...['package-lock.json', 'cdk.json'].map((f) => statSync(path.join(ROOT, f)).mtimeMs),
  );
  if (existsSync(manifest) && statSync(manifest).mtimeMs >= newestSource) return;
  // As `npm run synth` (cdk.json keeps it offline: no notices, no version reporting, no telemetry).
  await run(path.join(ROOT, 'node_modules/.bin/cdk'), ['synth', '--quiet'], {
    cwd: ROOT,
    env: process.env,
    timeout: 240_000,
    maxBuffer: 16 * 1024 * 1024,
  });
}

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(p) : statSync(p).mtimeMs);
  }
  return newest;
}

/** The functions and the default schedule's input, from cdk.out's manifest and the stack's template. */
function readCdkOut(): Synthesized {
  const manifest = JSON.parse(readFileSync(path.join(CDK_OUT, 'manifest.json'), 'utf8')) as {
    artifacts: Record<string, { type: string; properties?: { templateFile?: string } }>;
  };
  const stacks = Object.values(manifest.artifacts).filter((a) => a.type === 'aws:cloudformation:stack');
  expect(stacks).toHaveLength(1);
  const template = JSON.parse(
    readFileSync(path.join(CDK_OUT, stacks[0]!.properties!.templateFile!), 'utf8'),
  ) as { Resources: Record<string, { Type: string; Metadata?: Record<string, unknown>; Properties: Wire }> };
  const resources = Object.values(template.Resources);

  const lambda = (name: LambdaFunction['name']): LambdaFunction => {
    const [fn, ...others] = resources.filter(
      (r) =>
        r.Type === 'AWS::Lambda::Function' &&
        String(r.Metadata?.['aws:cdk:path']).endsWith(`/${name}/Resource`),
    );
    if (!fn || others.length > 0) throw new Error(`expected one ${name} function in the template`);
    const assetPath = fn.Metadata?.['aws:asset:path'];
    if (typeof assetPath !== 'string') throw new Error(`${name} has no aws:asset:path (bundling skipped?)`);
    // `index.handler`: the file `index.js` of the asset, its export `handler`.
    const handler = String(fn.Properties.Handler);
    const dot = handler.lastIndexOf('.');
    const bundle = path.join(CDK_OUT, assetPath, `${handler.slice(0, dot)}.js`);
    if (!existsSync(bundle)) throw new Error(`${name}'s bundle ${bundle} is missing`);
    return {
      name,
      bundle,
      exportName: handler.slice(dot + 1),
      timeoutSeconds: Number(fn.Properties.Timeout ?? 3),
      memoryMb: Number(fn.Properties.MemorySize ?? 128),
      runtime: String(fn.Properties.Runtime),
      variables: fn.Properties.Environment?.Variables ?? {},
    };
  };

  const inputs = resources
    .filter((r) => r.Type === 'AWS::Scheduler::Schedule' && typeof r.Properties.Target?.Input === 'string')
    .map((r) => JSON.parse(r.Properties.Target.Input) as DispatchInput);
  const defaultInput = inputs.find((i) => i.defaultGroup === true);
  if (!defaultInput) throw new Error('no schedule of the default group in the template');
  return { worker: lambda('Worker'), dispatcher: lambda('Dispatcher'), defaultInput };
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Wire = any;

/** Shared by the registry's three mailboxes (two in a shared secret, one with its own). */
const PASSWORDS = ['box-a-Pa55', 'box-b-Pa55', 'box-c-Pa55'];
const BUCKET = 'archive-bucket';
const BUS = 'pop3-bus';
const TABLE = 'registry-table';

describeWithDovecot(
  'the synthesized Lambda bundles (cdk.out) against the AWS stub and Dovecot over TLS',
  () => {
    let synthesized: Synthesized;
    let dovecot: DovecotServer;
    let aws: AwsStub;
    let queueUrl: string;
    let ids: string[];
    let work: string;
    let childOutput = '';

    beforeAll(async () => {
      await ensureSynthesized();
      synthesized = readCdkOut();
      // Three mailboxes of one shard, so that a tick is one batch job (one worker invocation).
      const shards = Number(synthesized.worker.variables.SHARDS ?? 32);
      const byShard = new Map<number, string[]>();
      let found: string[] | undefined;
      for (let n = 0; !found; n++) {
        const id = `box-${n}`;
        const group = byShard.get(shardOf(id, shards)) ?? [];
        group.push(id);
        byShard.set(shardOf(id, shards), group);
        if (group.length === 3) found = group;
      }
      ids = found;
      dovecot = await DovecotServer.start({
        users: ids.map((name, i) => ({ name, password: PASSWORDS[i]! })),
      });
      aws = await startAwsStub({ tables: { [TABLE]: { hashKey: REGISTRY_ITEM.partitionKey } } });
      queueUrl = aws.sqs.queueUrl('jobs.fifo');
      work = tempDir('bundles-test-');

      const shared = sharedSecretName('pop3-poller/', 1);
      aws.secrets.put(
        shared,
        JSON.stringify({
          mailboxes: { [ids[0]!]: { password: PASSWORDS[0] }, [ids[1]!]: { password: PASSWORDS[1] } },
        }),
      );
      aws.secrets.put(`pop3-poller/${ids[2]}`, JSON.stringify({ password: PASSWORDS[2] }));
      const recent = JSON.stringify({ at: new Date().toISOString(), status: 'ok' });
      ids.forEach((id, i) =>
        aws.dynamodb.putItem(TABLE, {
          [REGISTRY_ITEM.partitionKey]: { S: id },
          [REGISTRY_ITEM.record]: {
            S: encodeRecord({
              id,
              host: '127.0.0.1',
              port: dovecot.tlsPort,
              tls: 'implicit',
              username: id,
              secretId: i < 2 ? shared : `pop3-poller/${id}`,
            }),
          },
          // Polled a moment ago, healthy: an empty poll now has nothing new to record.
          [REGISTRY_ITEM.lastPoll]: { S: recent },
        }),
      );
    }, 300_000);

    afterAll(async () => {
      await aws?.close();
      await dovecot?.stop();
    });

    afterEach(() => {
      for (const password of PASSWORDS) expect(childOutput).not.toContain(password);
      childOutput = '';
    });

    /** The function's environment from the template, its references standing for the stub's resources. */
    function environment(fn: LambdaFunction): Record<string, string> {
      const stands: Record<string, string> = {
        JOB_QUEUE_URL: queueUrl,
        ARCHIVE_BUCKET: BUCKET,
        EVENT_BUS_NAME: BUS,
        REGISTRY_TABLE: TABLE,
      };
      const env: Record<string, string> = {};
      for (const [name, value] of Object.entries(fn.variables)) {
        if (typeof value === 'string') env[name] = value;
        else if (stands[name] !== undefined) env[name] = stands[name]!;
        else
          throw new Error(
            `${fn.name}'s ${name} is ${JSON.stringify(value)}: this test has no stand-in for it`,
          );
      }
      return env;
    }

    /** Runs the bundle's handler on each event in turn, in one fresh process (a cold environment). */
    async function invoke(
      fn: LambdaFunction,
      events: unknown[],
    ): Promise<Array<{ ok?: Wire; error?: string }>> {
      const eventsFile = path.join(work, `${fn.name}-events.json`);
      const resultFile = path.join(work, `${fn.name}-results.json`);
      writeFileSync(eventsFile, JSON.stringify(events));
      const env = {
        PATH: process.env.PATH ?? '',
        HOME: '/nonexistent', // no ~/.aws to read
        // What the Lambda runtime itself sets (Powertools' cold-start flag needs the first).
        AWS_LAMBDA_INITIALIZATION_TYPE: 'on-demand',
        AWS_LAMBDA_FUNCTION_NAME: fn.name,
        AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(fn.memoryMb),
        AWS_EXECUTION_ENV: `AWS_Lambda_${fn.runtime}`,
        ...aws.env(),
        ...environment(fn),
        // The deployment's private CA for its mail servers (a config setting; the default config has none).
        ...(fn.name === 'Worker' ? { EXTRA_CA_PEM: dovecot.certs.caPem } : {}),
      };
      const args = [fn.bundle, fn.exportName, eventsFile, resultFile, String(fn.timeoutSeconds * 1000)];
      const { stdout, stderr } = await run(process.execPath, ['-e', RUNNER, ...args, fn.name], {
        cwd: path.dirname(fn.bundle),
        env,
        timeout: 60_000,
        maxBuffer: 16 * 1024 * 1024,
      });
      childOutput += stdout + stderr;
      return JSON.parse(readFileSync(resultFile, 'utf8'));
    }

    /** One dispatcher tick; returns the job messages it enqueued (received and deleted, as the event source mapping does). */
    async function tick(scheduledTime: string) {
      const input: DispatchInput = { ...synthesized.defaultInput, jobs: [], scheduledTime };
      const [dispatched] = await invoke(synthesized.dispatcher, [input]);
      expect(dispatched).toEqual({ ok: expect.objectContaining({ jobs: 3, fromRegistry: 3, batches: 1 }) });
      const received = aws.sqs.operations.ReceiveMessage!({
        QueueUrl: queueUrl,
        MaxNumberOfMessages: 10,
        VisibilityTimeout: 900,
        AttributeNames: ['All'],
      }) as {
        Messages?: Array<{ MessageId: string; ReceiptHandle: string; Body: string; Attributes: Wire }>;
      };
      const messages = received.Messages ?? [];
      for (const m of messages)
        aws.sqs.operations.DeleteMessage!({ QueueUrl: queueUrl, ReceiptHandle: m.ReceiptHandle });
      return messages.map((m) =>
        sqsRecord(m.Body, {
          messageId: m.MessageId,
          groupId: m.Attributes.MessageGroupId,
          receiveCount: Number(m.Attributes.ApproximateReceiveCount),
        }),
      );
    }

    function logs(): Array<Record<string, unknown>> {
      return childOutput
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as Record<string, unknown>)
        .filter((r) => typeof r.message === 'string');
    }

    test('the bundles are where the template says, and need nothing but Node and the AWS SDK', () => {
      for (const fn of [synthesized.worker, synthesized.dispatcher]) {
        const requires = new Set(
          [...readFileSync(fn.bundle, 'utf8').matchAll(/require\("([^"]+)"\)/g)].map((m) => m[1]!),
        );
        for (const r of requires) expect(r).toMatch(/^(node:|@aws-sdk\/)/);
        expect(fn.exportName).toBe('handler');
      }
    });

    test('an empty tick: the dispatcher scans once and sends once; the worker reads each distinct secret once, then nothing warm', async () => {
      aws.resetCalls();
      const [job, ...more] = await tick('2026-12-04T10:05:00Z');
      expect(more).toEqual([]);
      expect(aws.counts()).toEqual({ 'DynamoDB.Scan': 1, 'SQS.SendMessageBatch': 1 });

      aws.resetCalls();
      // Two invocations in one environment: cold (the secrets read), then warm (the cache serves them).
      const results = await invoke(synthesized.worker, [{ Records: [job] }, { Records: [job] }]);
      expect(results).toEqual([{ ok: { batchItemFailures: [] } }, { ok: { batchItemFailures: [] } }]);
      expect(aws.counts()).toEqual(emptyBatchCalls(2)); // the shared secret and the own one, once each
      expect(logs().filter((l) => l.message === 'Batch polled')).toEqual([
        expect.objectContaining({ level: 'INFO', mailboxes: 3, ok: 3, archived: 0, cold_start: true }),
        expect.objectContaining({ level: 'INFO', mailboxes: 3, ok: 3, archived: 0, cold_start: false }),
      ]);
    });

    test('a tick with mail: archived byte-exact, events published, last polls recorded, mail deleted — with the calls counted', async () => {
      const delivered = new Map([
        [ids[0]!, [1, 2].map((n) => makeMessage(n, { batch: ids[0], bodyBytes: 30_000 * n }))],
        [ids[2]!, [makeMessage(1, { batch: ids[2] })]],
      ]);
      for (const [id, messages] of delivered) dovecot.deliver(messages, id);

      aws.resetCalls();
      const [job] = await tick('2026-12-04T10:10:00Z');
      expect(aws.counts()).toEqual({ 'DynamoDB.Scan': 1, 'SQS.SendMessageBatch': 1 });

      aws.resetCalls();
      const [result] = await invoke(synthesized.worker, [{ Records: [job] }]);
      expect(result).toEqual({ ok: { batchItemFailures: [] } });

      const prefix = String(synthesized.worker.variables.ARCHIVE_PREFIX ?? '');
      const keys = [...delivered]
        .flatMap(([id, ms]) => ms.map((m) => `${prefix}${id}/${sha256(m)}.eml`))
        .sort();
      expect(aws.s3.keys(BUCKET)).toEqual(keys);
      for (const [id, messages] of delivered) {
        for (const m of messages)
          expect(aws.s3.object(BUCKET, `${prefix}${id}/${sha256(m)}.eml`)?.equals(m)).toBe(true);
        expect(dovecot.mailboxCount(id)).toBe(0);
      }
      expect(
        aws.events
          .entries(BUS)
          .map((e) => e.detailType)
          .sort(),
      ).toEqual([
        'Message Archived',
        'Message Archived',
        'Message Archived',
        'Poll Completed',
        'Poll Completed',
      ]);

      // Cold again (a new process): both secrets read; the mailbox without mail costs nothing more.
      const shape: MailBatch = { secretsRead: 2, messagesPerMailbox: [2, 1] };
      const counts = aws.counts();
      const eventCalls = messageEventCalls(counts, shape);
      const [fewest, most] = messageEventCallsRange(shape);
      expect(eventCalls).toBeGreaterThanOrEqual(fewest);
      expect(eventCalls).toBeLessThanOrEqual(most);
      expect(counts).toEqual(mailBatchCalls(shape, eventCalls));
      for (const [id, messages] of delivered) {
        const lastPoll = JSON.parse(aws.dynamodb.item(TABLE, { id: { S: id } })?.lastPoll?.S as string);
        expect(lastPoll).toMatchObject({ status: 'ok', archived: messages.length });
      }
      expect(logs().filter((l) => l.message === 'Batch polled')).toEqual([
        expect.objectContaining({ mailboxes: 3, ok: 3, archived: 3, lastPollWrites: 2, summaries: 2 }),
      ]);
    });
  },
);
