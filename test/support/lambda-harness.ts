import { randomUUID } from 'node:crypto';
import type { Context, SQSRecord } from 'aws-lambda';

/**
 * What it takes to invoke a Lambda handler in-process: a context whose remaining time runs down
 * in real time, SQS records as the event source mapping builds them, and the function's output
 * (Powertools writes JSON log lines and EMF metric records to stdout/stderr) captured and parsed.
 */

export function lambdaContext(remainingMs = 120_000, functionName = 'pop3-poller-test'): Context {
  const endsAt = Date.now() + remainingMs;
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:eu-west-1:111122223333:function:${functionName}`,
    memoryLimitInMB: '1024',
    awsRequestId: randomUUID(),
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: '2025/03/04/[$LATEST]0123456789abcdef',
    getRemainingTimeInMillis: () => Math.max(0, endsAt - Date.now()),
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

export interface RecordOptions {
  readonly messageId?: string;
  readonly groupId?: string;
  readonly receiveCount?: number;
}

export const JOB_QUEUE_ARN = 'arn:aws:sqs:eu-west-1:111122223333:pop3-jobs.fifo';

export function sqsRecord(body: string, options: RecordOptions = {}): SQSRecord {
  const messageId = options.messageId ?? randomUUID();
  const now = String(Date.now());
  return {
    messageId,
    receiptHandle: `receipt-${messageId}`,
    body,
    attributes: {
      ApproximateReceiveCount: String(options.receiveCount ?? 1),
      SentTimestamp: now,
      SenderId: 'AIDAEXAMPLE',
      ApproximateFirstReceiveTimestamp: now,
      SequenceNumber: '18849496460467696128',
      ...(options.groupId !== undefined ? { MessageGroupId: options.groupId } : {}),
      MessageDeduplicationId: `dedupe-${messageId}`,
    },
    messageAttributes: {},
    md5OfBody: '',
    eventSource: 'aws:sqs',
    eventSourceARN: JOB_QUEUE_ARN,
    awsRegion: 'eu-west-1',
  };
}

/** Captures everything written to stdout and stderr (not passed through) until `restore()`. */
export class CapturedOutput {
  private readonly chunks: string[] = [];
  private readonly originals: Array<() => void>;

  // Plain method replacement rather than jest spies, so benchmarks (run by tsx, built by tsc
  // without jest's types) can share this harness with the tests.
  constructor() {
    const capture = (chunk: unknown): boolean => {
      this.chunks.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk as Uint8Array).toString('utf8'));
      return true;
    };
    this.originals = [process.stdout, process.stderr].map((stream) => {
      const original = stream.write;
      stream.write = capture as typeof stream.write;
      return () => {
        stream.write = original;
      };
    });
  }

  get text(): string {
    return this.chunks.join('');
  }

  /** Every line that is a JSON object. */
  records(): Array<Record<string, unknown>> {
    const out: Array<Record<string, unknown>> = [];
    for (const line of this.text.split('\n')) {
      if (!line.startsWith('{')) continue;
      try {
        out.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        // not one of ours
      }
    }
    return out;
  }

  /** Powertools Logger records (they have a level and a message). */
  logs(): Array<Record<string, unknown>> {
    return this.records().filter((r) => typeof r.level === 'string' && typeof r.message === 'string');
  }

  /** Embedded Metric Format records. */
  metrics(): EmfRecord[] {
    return this.records().filter((r): r is EmfRecord => typeof r._aws === 'object' && r._aws !== null);
  }

  clear(): void {
    this.chunks.length = 0;
  }

  restore(): void {
    for (const undo of this.originals) undo();
  }
}

export interface EmfRecord extends Record<string, unknown> {
  readonly _aws: {
    readonly Timestamp: number;
    readonly CloudWatchMetrics: ReadonlyArray<{
      readonly Namespace: string;
      readonly Dimensions: ReadonlyArray<readonly string[]>;
      readonly Metrics: ReadonlyArray<{ readonly Name: string; readonly Unit: string }>;
    }>;
  };
}
