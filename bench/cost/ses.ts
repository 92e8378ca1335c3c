/**
 * Cost of SES inbound per 1,000 messages (npx tsx bench/cost/ses.ts [--messages 1000] [--batch 10]):
 * the REAL SES inbound handler runs in-process against the local AWS stub, on copies of the
 * test fixtures SES wrote (test/support/ses/), one distinct message each, delivered as the rule's
 * SQS target would, `--batch` notifications per invocation. Its AWS calls and log bytes are counted
 * and its invocation wall time measured (an upper bound of Lambda's billed duration: the stub
 * answers on loopback, the handler's CPU is this machine's), then priced with bench/prices.ts.
 *
 * Around the handler, per message, whatever the batch: SES's own receiving charge (a message and
 * its 256 KB chunks), SES's PutObject of the object, S3's event to EventBridge (free) and the
 * rule's delivery to SQS (free), the SendMessage of that delivery; and per batch, the event source
 * mapping's ReceiveMessage and DeleteMessageBatch.
 */
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { startAwsStub } from '../../test/support/aws-stub';
import { CapturedOutput, lambdaContext, sqsRecord } from '../../test/support/lambda-harness';
import { objectCreatedEvent, sesObject } from '../../test/support/ses/fixtures';
import { PRICES as P, PRICES_SOURCE } from '../prices';

const { values: args } = parseArgs({
  options: { messages: { type: 'string', default: '1000' }, batch: { type: 'string', default: '10' } },
  strict: true,
});
const N = Number(args.messages);
const BATCH = Number(args.batch);
const MEMORY_MB = 512;
const SES_BUCKET = 'inbound-mail';
const ARCHIVE_BUCKET = 'archive';

async function main(): Promise<void> {
  const aws = await startAwsStub();
  Object.assign(process.env, aws.env(), {
    ARCHIVE_BUCKET,
    ARCHIVE_PREFIX: 'mail/',
    EVENT_BUS_NAME: 'pop3-bus',
    SES_BUCKET,
    SES_PREFIX: 'ses/',
    SES_RECIPIENTS: JSON.stringify({ 'support@example.com': 'support', 'billing@example.com': 'billing' }),
    SES_DOMAINS: 'example.com',
    POWERTOOLS_SERVICE_NAME: 'pop3-poller-ses-inbound',
    POWERTOOLS_METRICS_NAMESPACE: 'Pop3Poller',
  });
  // Distinct messages of the fixtures' shapes (one recipient each), so none is already archived.
  const shapes = [sesObject('singleRecipient'), sesObject('eightBit')];
  const records = [];
  let bytes = 0;
  for (let i = 0; i < N; i++) {
    const body = Buffer.concat([shapes[i % shapes.length]!, Buffer.from(`\r\nbench copy ${i}\r\n`)]);
    const key = `ses/bench${String(i).padStart(8, '0')}`;
    await aws.s3.put(SES_BUCKET, key, body);
    records.push(sqsRecord(objectCreatedEvent(SES_BUCKET, key, body.length), { messageId: `m${i}` }));
    bytes += body.length;
  }
  const { handler } = await import('../../functions/handlers/ses-inbound.js');
  aws.resetCalls();

  const durations: number[] = [];
  let logBytes = 0;
  let failures = 0;
  for (let i = 0; i < records.length; i += BATCH) {
    const out = new CapturedOutput();
    const start = performance.now();
    try {
      const result = await handler({ Records: records.slice(i, i + BATCH) }, lambdaContext());
      failures += result.batchItemFailures.length;
    } finally {
      durations.push(performance.now() - start);
      out.restore();
      logBytes += Buffer.byteLength(out.text);
    }
  }
  const counts = aws.counts();
  await aws.close();
  if (failures > 0) throw new Error(`${failures} notifications failed`);
  const archived = aws.s3.keys(ARCHIVE_BUCKET).length;
  if (archived !== N) throw new Error(`${archived} messages archived of ${N}`);

  const invocations = durations.length;
  const ms = durations.reduce((a, b) => a + b, 0);
  const per1000 = 1000 / N;
  const chunks = (size: number) => Math.max(1, Math.ceil(size / (256 * 1024)));
  const lines: Array<[string, number]> = [
    [
      'SES receiving (messages + 256 KB chunks)',
      (N * P.sesInboundMessage + N * chunks(bytes / N) * P.sesInboundChunk) * per1000,
    ],
    ["SES's PutObject of each object", N * P.s3Put * per1000],
    ['S3 GetObject (handler)', (counts['S3.GetObject'] ?? 0) * P.s3Get * per1000],
    ['S3 PutObject (archive)', (counts['S3.PutObject'] ?? 0) * P.s3Put * per1000],
    [
      'EventBridge PutEvents (custom events)',
      (counts['EventBridge.PutEvents'] ?? 0) * P.eventBridgeEvent * per1000,
    ],
    [
      'SQS: rule delivery + receive + delete per batch',
      (N + 2 * invocations) * P.sqsStandardRequest * per1000,
    ],
    ['Lambda requests', invocations * P.lambdaRequest * per1000],
    [
      'Lambda duration (measured wall time, 512 MB)',
      (ms / 1000) * (MEMORY_MB / 1024) * P.lambdaGbSecond * per1000,
    ],
    ['CloudWatch Logs ingestion', (logBytes / 1024 ** 3) * P.logsIngestGb * per1000],
  ];
  const total = lines.reduce((sum, [, usd]) => sum + usd, 0);
  console.log(
    `SES inbound, ${N} messages of ${Math.round(bytes / N)} bytes on average, ${BATCH} per invocation`,
  );
  console.log(
    `handler: ${invocations} invocations, ${(ms / invocations).toFixed(1)} ms each on average (wall, in-process)`,
  );
  console.log(
    `AWS calls: ${JSON.stringify(counts)}; log bytes ${logBytes} (${Math.round(logBytes / N)} per message)`,
  );
  console.log(`\nper 1,000 messages (${PRICES_SOURCE}):`);
  for (const [what, usd] of lines) console.log(`  ${what.padEnd(48)} $${usd.toFixed(5)}`);
  console.log(`  ${'total'.padEnd(48)} $${total.toFixed(5)}`);
  console.log(
    `  ${'of which SES receiving itself'.padEnd(48)} $${lines[0]![1].toFixed(5)}` +
      `\nfixed: 3 alarms $${(3 * P.alarmMetricMonth).toFixed(2)}/month, 3 custom metrics $${(3 * P.customMetricMonth).toFixed(2)}/month` +
      " (not per message); the event source mapping's idle polling of the queue is not included.",
  );
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
