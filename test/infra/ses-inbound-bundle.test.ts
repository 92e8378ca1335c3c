import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { S3Client } from '@aws-sdk/client-s3';
import { build } from 'esbuild';
import { EventBridgeSink } from '../../functions/adapters/eventbridge-sink';
import { S3ArchiveReader } from '../../functions/adapters/s3-archive-reader';
import { replay } from '../../functions/replay/replay';
import { BUNDLE, entryPath, PROJECT_ROOT } from '../../infra/bundling';
import { startAwsStub, type AwsStub } from '../support/aws-stub';
import { sqsRecord } from '../support/lambda-harness';
import { objectCreatedEvent, SES_MESSAGE_IDS, sesObject } from '../support/ses/fixtures';

/**
 * The SES inbound bundle, built with the construct's own esbuild options (infra/bundling.ts), run
 * as Lambda runs it — a child `node` that requires it and calls `handler` — with the real SDK
 * clients against the local AWS stub: the adapters it loads on first use are in the bundle, it
 * needs nothing the Lambda runtime does not provide, and an SES object becomes an archived
 * message and an event; delivered again, the same event and nothing written; and replay
 * (functions/replay) rebuilds that very event from the archive, `source: ses` included.
 *
 * Written under node_modules/.cache so that the `@aws-sdk/*` packages left out of the bundle
 * resolve from the project's node_modules, as they do from the Lambda runtime's.
 */

const run = promisify(execFile);

/** The runtime's stand-in: refuses any bare import but Node's and the SDK's; one environment, several invocations. */
const RUNNER = String.raw`
const Module = require('node:module');
const fs = require('node:fs');
const [bundle, eventsFile, resultFile] = process.argv.slice(1);
const resolve = Module._resolveFilename;
Module._resolveFilename = function (request, parent, ...rest) {
  const provided = request.startsWith('node:') || Module.isBuiltin(request) || request.startsWith('@aws-sdk/') ||
    request.startsWith('@smithy/') || request.startsWith('.') || request.startsWith('/');
  if (parent && parent.filename === bundle && !provided) throw new Error('the bundle requires ' + request);
  return resolve.call(this, request, parent, ...rest);
};
(async () => {
  const { handler } = require(bundle);
  const context = { functionName: 'ses-inbound', awsRequestId: 'r', getRemainingTimeInMillis: () => 60000 };
  const results = [];
  for (const event of JSON.parse(fs.readFileSync(eventsFile, 'utf8'))) results.push(await handler(event, context));
  fs.writeFileSync(resultFile, JSON.stringify(results));
})().catch((e) => { process.stderr.write(String((e && e.stack) || e)); process.exit(1); });
`;

const SES_BUCKET = 'inbound-mail';
const ARCHIVE_BUCKET = 'archive';

describe('the SES inbound bundle (esbuild, as deployed) against the AWS stub', () => {
  let dir: string;
  let bundle: string;
  let aws: AwsStub;

  beforeAll(async () => {
    const cache = path.join(PROJECT_ROOT, 'node_modules', '.cache');
    mkdirSync(cache, { recursive: true });
    dir = mkdtempSync(path.join(cache, 'ses-inbound-bundle-'));
    bundle = path.join(dir, 'index.js');
    await build({
      entryPoints: [entryPath('ses-inbound')],
      outfile: bundle,
      bundle: true,
      minify: BUNDLE.minify,
      format: BUNDLE.format,
      platform: BUNDLE.platform,
      target: BUNDLE.target,
      external: [...BUNDLE.externalModules],
      mainFields: [...BUNDLE.mainFields],
      logLevel: 'silent',
    });
    aws = await startAwsStub();
  }, 60_000);

  afterAll(async () => {
    await aws?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('archives an SES object and publishes its event; delivered again, the same event and no second object; replayed, the same event marked', async () => {
    const bytes = sesObject('singleRecipient');
    const key = `ses/${SES_MESSAGE_IDS.singleRecipient}`;
    await aws.s3.put(SES_BUCKET, key, bytes);
    const event = { Records: [sqsRecord(objectCreatedEvent(SES_BUCKET, key, bytes.length))] };
    const eventsFile = path.join(dir, 'events.json');
    const resultFile = path.join(dir, 'result.json');
    writeFileSync(eventsFile, JSON.stringify([event, event]));

    await run(process.execPath, ['-e', RUNNER, bundle, eventsFile, resultFile], {
      cwd: dir,
      timeout: 60_000,
      env: {
        PATH: process.env.PATH ?? '',
        ...aws.env(),
        ARCHIVE_BUCKET,
        ARCHIVE_PREFIX: 'mail/',
        EVENT_BUS_NAME: 'pop3-bus',
        SES_BUCKET,
        SES_PREFIX: 'ses/',
        SES_RECIPIENTS: JSON.stringify({ 'support@example.com': 'support' }),
        POWERTOOLS_SERVICE_NAME: 'pop3-poller-ses-inbound',
      },
    });

    expect(JSON.parse(readFileSync(resultFile, 'utf8'))).toEqual([
      { batchItemFailures: [] },
      { batchItemFailures: [] },
    ]);
    const sha = createHash('sha256').update(bytes).digest('hex');
    expect(aws.s3.keys(ARCHIVE_BUCKET)).toEqual([`mail/support/${sha}.eml`]);
    const stored = aws.s3.info(ARCHIVE_BUCKET, `mail/support/${sha}.eml`)!;
    expect(stored.body.equals(bytes)).toBe(true);
    expect(stored.metadata).toMatchObject({ 'account-id': 'support', sha256: sha, 'event-source': 'ses' });
    // The SES object is untouched.
    expect(aws.s3.object(SES_BUCKET, key)!.equals(bytes)).toBe(true);
    // Two deliveries: two identical events (the second write refused by If-None-Match).
    const published = aws.events.entries('pop3-bus');
    expect(published).toHaveLength(2);
    expect(published[0]!.source).toBe('ses');
    expect(published[1]!.detail).toBe(published[0]!.detail);
    expect(JSON.parse(published[0]!.detail)).toMatchObject({ accountId: 'support', uidl: null, sha256: sha });
    expect(aws.counts()).toMatchObject({
      'S3.GetObject': 2,
      'S3.PutObject': 2,
      'S3.HeadObject': 1,
      'EventBridge.PutEvents': 2,
    });
    expect(
      aws
        .calls()
        .filter((c) => c.operation === 'PutObject')
        .map((c) => c.status),
    ).toEqual([200, 412]);

    // Replay, from the archive alone: the original event, plus only the replay marker.
    const region = { region: 'us-east-1', credentials: { accessKeyId: 'AKID', secretAccessKey: 'stub' } };
    const requestedAt = new Date('2026-12-08T09:00:00.000Z');
    const result = await replay(
      {
        reader: new S3ArchiveReader(new S3Client({ ...region, ...aws.endpoints.s3 }), {
          bucket: ARCHIVE_BUCKET,
          prefix: 'mail/',
        }),
        sink: new EventBridgeSink(new EventBridgeClient({ ...region, ...aws.endpoints.eventBridge }), {
          eventBusName: 'pop3-bus',
        }),
      },
      { runId: 'ses-replay', requestedAt, range: { accounts: ['support'], headers: [] } },
    );
    expect(result).toMatchObject({ status: 'complete', messages: 1, events: 1 });
    const replayed = aws.events.entries('pop3-bus')[2]!;
    expect([replayed.source, replayed.detailType, replayed.time]).toEqual([
      published[0]!.source,
      published[0]!.detailType,
      published[0]!.time,
    ]);
    expect(JSON.parse(replayed.detail)).toEqual({
      ...JSON.parse(published[0]!.detail),
      replay: { runId: 'ses-replay', requestedAt: requestedAt.toISOString() },
    });
  }, 90_000);
});
