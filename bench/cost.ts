/**
 * Cost model of the fleet (npm run cost -- [--mailboxes 1000] [--with-mail 0.02]): the REAL
 * dispatcher and worker handlers run in-process against the local AWS stub and a loopback POP3
 * server (implicit TLS, test CA), tick by tick; calls, bytes, log output and invocation wall times
 * are measured, then priced with bench/prices.ts.
 *
 * Ticks run 5 simulated minutes apart (Date.now is shifted; the warm secret cache's TTL runs on it):
 * 1 cold (secrets read, every lastPoll written); then one cache cycle of steady ticks (TTL ÷ 5 min,
 * the last of which reads the secrets again), averaged into the empty-poll figure; then one with
 * mail in a share of the mailboxes, priced as the extra over the first steady tick (whose cache
 * state it shares), per archived message.
 *
 * The process is one Lambda environment. The worker's environments each keep their own cache, so
 * the secret reads measured in a cycle are multiplied by SETTINGS.workerEnvironments (an upper
 * bound: every environment alive and touching every secret). A healthy mailbox's lastPoll is
 * rewritten once a day (poll-batch.ts); that is priced from the cold tick, where every mailbox's
 * record is written, as a share of it per tick.
 * Lambda's event source mapping (batch size 1, as infra/constructs/worker.ts) is modelled: one
 * ReceiveMessage and one DeleteMessage per job message, made in-process on the stub (not logged
 * by it) and counted here.
 */
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { SHARED_SECRET_MAX_BYTES, sharedSecretName } from '../functions/adapters/shared-secret';
import { LAST_POLL_REFRESH_MS } from '../functions/handlers/poll-batch';
import { encodeRecord } from '../functions/registry/record';
import { startAwsStub, type AwsCall } from '../test/support/aws-stub';
import { makeTestCertificates } from '../test/support/certs';
import { lambdaContext, sqsRecord } from '../test/support/lambda-harness';
import { startTcpProxy } from '../test/support/tcp-proxy';
import { deliver, startPop3Fleet } from './cost/pop3';
import { PRICES as P, PRICES_SOURCE, SETTINGS } from './prices';

const { values: args } = parseArgs({
  options: {
    mailboxes: { type: 'string', default: '1000' },
    'with-mail': { type: 'string', default: '0.02' },
    'rtt-ms': { type: 'string', default: '30' },
  },
  strict: true,
});
const N = Number(args.mailboxes);
const MAIL_SHARE = Number(args['with-mail']);
/**
 * Round trip between the worker and the POP3 servers, added by a delaying proxy (data only, not the
 * TCP handshake): Lambda bills wall time, and an empty poll is mostly waiting on the server.
 */
const RTT_MS = Number(args['rtt-ms']);
const CHUNK = 64 * 1024;
const chunks = (bytes: number) => Math.max(1, Math.ceil(bytes / CHUNK));
/** The mail tick: 3 messages of ~2 KB in each mailbox with mail. */
const MESSAGES_PER_MAILBOX = 3;
/** Assumed: Lambda's own START/END/REPORT lines per invocation (not written by the handler). */
const PLATFORM_LOG_BYTES = 350;
const TICK_MS = 5 * 60 * 1000;

// Simulated time for what reads Date.now (the secret cache among it); TLS checks keep the real clock.
const realNow = Date.now.bind(Date);
let simulatedOffsetMs = 0;
Date.now = () => realNow() + simulatedOffsetMs;

async function main(): Promise<void> {
  const certs = makeTestCertificates();
  const pop3 = await startPop3Fleet(certs);
  const link =
    RTT_MS > 0 ? await startTcpProxy({ targetPort: pop3.port, oneWayDelayMs: RTT_MS / 2 }) : undefined;
  const pop3Port = link?.port ?? pop3.port;
  const aws = await startAwsStub({ tables: { registry: { hashKey: 'id' } } });
  const queueUrl = aws.sqs.queueUrl('jobs.fifo');
  Object.assign(process.env, aws.env(), {
    ARCHIVE_BUCKET: 'archive',
    EVENT_BUS_NAME: 'default',
    JOB_QUEUE_URL: queueUrl,
    REGISTRY_TABLE: 'registry',
    EXTRA_CA_PEM: certs.caPem,
    POWERTOOLS_SERVICE_NAME: 'pop3-poller',
  });
  // The handlers create their SDK clients at module load: import them after the environment is set.
  const dispatcher = await import('../functions/handlers/dispatcher.js');
  const worker = await import('../functions/handlers/worker.js');

  // The fleet: N mailboxes on the loopback server, their passwords in shared secrets.
  const ids = Array.from({ length: N }, (_, i) => `mbx-${String(i).padStart(6, '0')}`);
  const secrets: Array<Record<string, { password: string }>> = [{}];
  let secretBytes = 20;
  for (const id of ids) {
    const password = `pw-${id}-${Math.random().toString(36).slice(2, 10)}`;
    const entryBytes = JSON.stringify({ [id]: { password } }).length;
    if (secretBytes + entryBytes > SHARED_SECRET_MAX_BYTES) {
      secrets.push({});
      secretBytes = 20;
    }
    secrets[secrets.length - 1]![id] = { password };
    secretBytes += entryBytes;
    const secretId = sharedSecretName('pop3/', secrets.length);
    pop3.boxes.set(`${id}@example.test`, { password, messages: [] });
    aws.dynamodb.putItem('registry', {
      id: { S: id },
      record: {
        S: encodeRecord({
          id,
          host: '127.0.0.1',
          port: pop3Port,
          tls: 'implicit',
          username: `${id}@example.test`,
          secretId,
        }),
      },
    });
  }
  secrets.forEach((mailboxes, i) =>
    aws.secrets.put(sharedSecretName('pop3/', i + 1), JSON.stringify({ mailboxes })),
  );

  interface Tick {
    calls: AwsCall[];
    esmReceives: number;
    esmReceiveChunks: number;
    events: number;
    logBytes: number;
    dispatcherMs: number;
    workerMs: number[];
  }

  async function tick(n: number): Promise<Tick> {
    simulatedOffsetMs = (n - 1) * TICK_MS;
    aws.resetCalls();
    const eventsBefore = aws.events.entries().length;
    let logBytes = 0;
    const writes = [process.stdout.write, process.stderr.write];
    const count = (chunk: string | Uint8Array) => ((logBytes += Buffer.byteLength(chunk)), true);
    process.stdout.write = count as typeof process.stdout.write;
    process.stderr.write = count as typeof process.stderr.write;
    const t: Tick = {
      calls: [],
      esmReceives: 0,
      esmReceiveChunks: 0,
      events: 0,
      logBytes: 0,
      dispatcherMs: 0,
      workerMs: [],
    };
    try {
      const scheduledTime = new Date(Date.UTC(2026, 11, 4, 0, 5 * n)).toISOString();
      const started = performance.now();
      await dispatcher.handler(
        { jobs: [], registryGroup: 'default', defaultGroup: true, scheduledTime },
        lambdaContext(60_000, 'dispatcher'),
      );
      t.dispatcherMs = performance.now() - started;
      for (;;) {
        const received = aws.sqs.operations.ReceiveMessage!({
          QueueUrl: queueUrl,
          MaxNumberOfMessages: 1,
          VisibilityTimeout: 900,
          AttributeNames: ['All'],
        }) as {
          Messages?: Array<{
            MessageId: string;
            ReceiptHandle: string;
            Body: string;
            Attributes: Record<string, string>;
          }>;
        };
        const m = received.Messages?.[0];
        if (!m) break;
        t.esmReceives++;
        t.esmReceiveChunks += chunks(Buffer.byteLength(m.Body));
        const record = sqsRecord(m.Body, {
          groupId: m.Attributes.MessageGroupId,
          messageId: m.MessageId,
          receiveCount: Number(m.Attributes.ApproximateReceiveCount),
        });
        const begun = performance.now();
        const result = await worker.handler({ Records: [record] }, lambdaContext(120_000, 'worker'));
        t.workerMs.push(performance.now() - begun);
        if (result.batchItemFailures.length > 0)
          throw new Error(`worker failed its job ${m.MessageId} (tick ${n})`);
        aws.sqs.operations.DeleteMessage!({ QueueUrl: queueUrl, ReceiptHandle: m.ReceiptHandle });
      }
    } finally {
      [process.stdout.write, process.stderr.write] = writes as [
        typeof process.stdout.write,
        typeof process.stderr.write,
      ];
    }
    t.calls = aws.calls();
    t.logBytes = logBytes + PLATFORM_LOG_BYTES * (1 + t.workerMs.length);
    t.events = aws.events
      .entries()
      .slice(eventsBefore)
      .reduce((s, e) => s + chunks(JSON.stringify(e).length), 0);
    return t;
  }

  /** Line items of one tick: [name, unit, quantity, $ per unit]. */
  function items(t: Tick): Array<[string, number, number]> {
    const c = (pred: (c: AwsCall) => boolean) => t.calls.filter(pred);
    const sqsSends = c((x) => x.service === 'SQS').reduce((s, x) => s + chunks(x.requestBytes), 0);
    const s3 = c((x) => x.service === 'S3');
    const putTier = s3.filter((x) => /^(Put|Copy|Post|List|Create|Upload|Complete)/.test(x.operation)).length;
    const ddb = c((x) => x.service === 'DynamoDB');
    const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
    return [
      ['Scheduler invocations', 1, P.schedulerInvocation],
      ['Lambda requests', 1 + t.workerMs.length, P.lambdaRequest],
      [
        'Lambda dispatcher GB-s',
        (Math.ceil(t.dispatcherMs) / 1000) * (SETTINGS.dispatcherMemoryMb / 1024),
        P.lambdaGbSecond,
      ],
      [
        'Lambda worker GB-s',
        (sum(t.workerMs.map(Math.ceil)) / 1000) * (SETTINGS.workerMemoryMb / 1024),
        P.lambdaGbSecond,
      ],
      ['SQS FIFO requests (64 KB chunks)', sqsSends + t.esmReceiveChunks + t.esmReceives, P.sqsFifoRequest],
      ['EventBridge events (64 KB chunks)', t.events, P.eventBridgeEvent],
      ['S3 PUT-tier requests', putTier, P.s3Put],
      ['S3 GET-tier requests', s3.length - putTier, P.s3Get],
      ['Secrets Manager API calls', c((x) => x.service === 'SecretsManager').length, P.secretsApiCall],
      ['DynamoDB write request units', sum(ddb.map((x) => x.capacity?.write ?? 0)), P.dynamoWriteUnit],
      ['DynamoDB read request units', sum(ddb.map((x) => x.capacity?.read ?? 0)), P.dynamoReadUnit],
      ['CloudWatch Logs GB ingested', t.logBytes / 1e9, P.logsIngestGb],
    ];
  }

  const fmt = (x: number, d = 2) =>
    x.toLocaleString('en-US', { minimumFractionDigits: d, maximumFractionDigits: d });
  const qty = (x: number) =>
    Number.isInteger(x) ? x.toLocaleString('en-US') : x < 0.01 ? x.toExponential(3) : fmt(x, 3);
  function table(rows: string[][]): void {
    const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
    for (const r of rows)
      console.log(
        r.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('  '),
      );
  }
  function countsOf(t: Tick): string {
    const counts: Record<string, number> = {};
    for (const x of t.calls)
      counts[`${x.service}.${x.operation}`] = (counts[`${x.service}.${x.operation}`] ?? 0) + 1;
    counts['SQS.ReceiveMessage (event source mapping, modelled)'] = t.esmReceives;
    counts['SQS.DeleteMessage (event source mapping, modelled)'] = t.esmReceives;
    return Object.entries(counts)
      .sort()
      .map(([k, v]) => `  ${k}: ${v}`)
      .join('\n');
  }
  const pct = (xs: number[], p: number) => {
    const s = [...xs].sort((a, b) => a - b);
    return s[Math.min(s.length - 1, Math.floor(p * s.length))] ?? 0;
  };

  const { readWorkerConfig } = await import('../functions/handlers/config.js');
  const cacheSeconds = readWorkerConfig().secretCacheSeconds;
  const cycle = Math.max(1, Math.ceil((cacheSeconds * 1000) / TICK_MS));
  const cold = await tick(1);
  const steadyTicks: Tick[] = [];
  for (let k = 0; k < cycle; k++) steadyTicks.push(await tick(2 + k));
  const steady = steadyTicks[0]!;
  const withMail = ids
    .filter((_, i) => i % Math.max(1, Math.round(1 / MAIL_SHARE)) === 0)
    .slice(0, Math.max(1, Math.round(N * MAIL_SHARE)));
  const body = (i: number) =>
    `From: a@example.test\r\nTo: b@example.test\r\nSubject: test ${i}\r\nMessage-ID: <${i}@example.test>\r\n\r\n${'x'.repeat(76)}\r\n`.repeat(
      1,
    ) + `${'Lorem ipsum dolor sit amet. '.repeat(70)}\r\n`;
  let delivered = 0;
  for (const id of withMail)
    for (let k = 0; k < MESSAGES_PER_MAILBOX; k++) deliver(pop3, `${id}@example.test`, body(++delivered));
  const mail = await tick(2 + cycle);
  const left = [...pop3.boxes.values()].reduce((s, b) => s + b.messages.length, 0);
  const archived = delivered - left;

  console.log(
    `Fleet cost model: ${N.toLocaleString('en-US')} mailboxes, ${secrets.length} shared secret(s), real handlers in-process on the AWS stub`,
  );
  console.log(
    `Prices: ${PRICES_SOURCE}. Settings: worker ${SETTINGS.workerMemoryMb} MB, dispatcher ${SETTINGS.dispatcherMemoryMb} MB, arm64; ${SETTINGS.ticksPerMonth.toLocaleString('en-US')} ticks/month (every 5 min, 30 days); POP3 round trip ${RTT_MS} ms.`,
  );
  console.log(
    `Secret cache ${cacheSeconds} s: a cycle of ${cycle} steady tick(s); secret reads × ${SETTINGS.workerEnvironments} environments; lastPoll rewritten every ${LAST_POLL_REFRESH_MS / 3_600_000} h.`,
  );
  console.log(`\nCalls per tick by operation:`);
  const named: Array<[string, Tick]> = [
    ['cold', cold],
    ...steadyTicks.map((t, k): [string, Tick] => [`steady ${k + 1}/${cycle}`, t]),
    ['mail', mail],
  ];
  console.log(named.map(([name, t]) => `${name} tick:\n${countsOf(t)}`).join('\n'));
  for (const [name, t] of named)
    console.log(
      `${name} tick: log bytes ${t.logBytes.toLocaleString('en-US')} (incl. assumed ${PLATFORM_LOG_BYTES} B platform lines × ${1 + t.workerMs.length} invocations); worker invocations ${t.workerMs.length}, median ${fmt(pct(t.workerMs, 0.5), 1)} ms, p95 ${fmt(pct(t.workerMs, 0.95), 1)} ms; dispatcher ${fmt(t.dispatcherMs, 1)} ms`,
    );

  const drainMs = steady.workerMs.reduce((a, b) => a + b, 0) / SETTINGS.workerEnvironments;
  console.log(
    `drain of a steady tick: ${steady.workerMs.length} jobs, ≈ ${fmt(drainMs / 1000, 1)} s at ${SETTINGS.workerEnvironments} concurrent workers (measured worker time ÷ ${SETTINGS.workerEnvironments}; the slowest job ${fmt(Math.max(...steady.workerMs), 0)} ms)`,
  );

  // The steady figure: the cycle's average, secret reads for every environment, and the daily
  // lastPoll refresh as its share per tick of the cold tick's writes.
  const ticksPerRefresh = LAST_POLL_REFRESH_MS / TICK_MS;
  const coldItems = items(cold);
  const averaged = items(steady).map(([name, , price], i): [string, number, number] => {
    let q = steadyTicks.reduce((s, t) => s + items(t)[i]![1], 0) / steadyTicks.length;
    if (name.startsWith('Secrets Manager')) {
      return [
        `${name} × ${SETTINGS.workerEnvironments} environments`,
        q * SETTINGS.workerEnvironments,
        price,
      ];
    }
    if (name.startsWith('DynamoDB write')) {
      q += coldItems[i]![1] / ticksPerRefresh;
      return [`${name} (incl. daily lastPoll)`, q, price];
    }
    return [name, q, price];
  });
  let monthly = 0;
  const rows = [[`Empty-poll fleet (steady, ${cycle}-tick average)`, 'per tick', 'per month', '$ / month']];
  for (const [name, q, price] of averaged) {
    const m = q * SETTINGS.ticksPerMonth;
    monthly += m * price;
    rows.push([name, qty(q), qty(m), fmt(m * price, 4)]);
  }
  const secretStorage = secrets.length * P.secretMonth;
  monthly += secretStorage;
  rows.push(['Shared-secret storage (secret-months)', '', String(secrets.length), fmt(secretStorage, 4)]);
  rows.push(['Total', '', '', fmt(monthly, 4)]);
  console.log('');
  table(rows);
  const perThousand = (monthly / N) * 1000;
  console.log(
    `→ $${fmt(perThousand, 4)} per 1,000 mailbox-months (fleet total ÷ ${N} × 1,000; includes the per-tick Scheduler and dispatcher, which do not grow with N)`,
  );

  const mailItems = items(mail);
  const steadyReference = items(steady);
  const mailRows = [
    [
      `Mail tick extra over steady (${archived} of ${delivered} messages archived)`,
      'extra/tick',
      '$ / 1,000 msgs',
    ],
  ];
  let perMsg = 0;
  mailItems.forEach(([name, q, price], i) => {
    const extra = q - steadyReference[i]![1];
    perMsg += (extra * price) / Math.max(1, archived);
    mailRows.push([name, qty(extra), fmt(((extra * price) / Math.max(1, archived)) * 1000, 5)]);
  });
  console.log('');
  table(mailRows);
  console.log(
    `→ $${fmt(perMsg * 1000, 4)} per 1,000 archived messages (~${body(1).length} B each; S3 storage not included)`,
  );

  const pollerReceives = 5 * ((30 * 86_400) / 20);
  const fixed = [
    ['Custom metrics (8 × metric-month)', 8 * P.customMetricMonth],
    ['Alarms (10 metrics × metric-month)', 10 * P.alarmMetricMonth],
    ['Dashboard', P.dashboardMonth],
    [
      `SQS pollers' empty long polls (assumed 5 concurrent × 20 s → ${pollerReceives.toLocaleString('en-US')}/month)`,
      pollerReceives * P.sqsFifoRequest,
    ],
  ] as const;
  console.log('');
  table([
    ['Fixed cost, one deployment', '$ / month'],
    ...fixed.map(([n, v]) => [n, fmt(v, 4)]),
    [
      'Total',
      fmt(
        fixed.reduce((s, [, v]) => s + v, 0),
        4,
      ),
    ],
  ]);
  console.log(`\nempty polls: $${fmt(perThousand, 2)} per 1,000 mailbox-months`);
  await aws.close();
  await link?.close();
  process.exit(0);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
