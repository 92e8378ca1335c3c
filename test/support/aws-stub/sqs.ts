import { createHash, randomUUID } from 'node:crypto';
import { StubError, check, type Wire } from './http';

/**
 * SQS (JSON protocol, `AmazonSQS.<Operation>`). A queue exists as soon as a URL is used; a URL
 * ending in `.fifo` is a FIFO queue: MessageGroupId required, order kept per group, one group's
 * messages held back while one of them is in flight, and sends deduplicated for 5 minutes on
 * MessageDeduplicationId (or the body's SHA-256 when none is given, as with content-based dedup).
 * ReceiveMessage never waits (WaitTimeSeconds is ignored).
 *
 * Queue URLs must point at the stub (`queueUrl(name)`): an SQSClient without an explicit
 * `endpoint` (a Lambda's `new SQSClient({})`, even with AWS_ENDPOINT_URL_SQS set) sends each
 * request to its QueueUrl's origin (middleware-sdk-sqs, useQueueUrlAsEndpoint), so a real
 * `https://sqs.<region>.amazonaws.com/…` URL would go to AWS.
 */

export interface SqsMessage {
  readonly messageId: string;
  readonly body: string;
  readonly messageAttributes: Record<string, unknown> | undefined;
  readonly messageGroupId: string | undefined;
  readonly messageDeduplicationId: string | undefined;
  readonly delaySeconds: number | undefined;
  readonly sequenceNumber: string | undefined;
  readonly sentAt: number;
  visibleAt: number;
  receiveCount: number;
  receiptHandle: string | undefined;
}

interface Queue {
  readonly messages: SqsMessage[];
  readonly sent: SqsMessage[];
  readonly dedup: Map<string, { messageId: string; sequenceNumber: string | undefined; at: number }>;
}

const MAX_MESSAGE_BYTES = 256 * 1024;
const DEDUP_MS = 5 * 60 * 1000;
const md5 = (text: string): string => createHash('md5').update(text, 'utf8').digest('hex');

export class SqsStub {
  private readonly queues = new Map<string, Queue>();
  /** Every receipt handle given out: an older one deletes nothing but is no error, as in SQS. */
  private readonly issued = new Set<string>();
  private sequence = 0n;
  private failing: Array<{ match: (entry: Wire) => boolean; code: string; times: number }> = [];

  /** The stub's origin, set once it listens. */
  baseUrl = '';

  constructor(private readonly now: () => number) {}

  /** A queue URL on the stub (`.fifo` names are FIFO queues). */
  queueUrl(name: string): string {
    return `${this.baseUrl}/000000000000/${name}`;
  }

  /** Messages in the queue now (not deleted), in order, in flight or not. */
  messages(queueUrl: string): SqsMessage[] {
    return [...(this.queues.get(queueUrl)?.messages ?? [])];
  }
  /** Every message the queue accepted (deduplicated sends not repeated), deleted or not. */
  sent(queueUrl: string): SqsMessage[] {
    return [...(this.queues.get(queueUrl)?.sent ?? [])];
  }
  queueUrls(): string[] {
    return [...this.queues.keys()];
  }
  /** SendMessageBatch entries matching `match` fail (Failed[], code) the next `times` times they are sent. */
  failEntries(
    match: (entry: { Id: string; MessageBody: string }) => boolean,
    code = 'InternalError',
    times = 1,
  ): void {
    this.failing.push({ match, code, times });
  }
  reset(): void {
    this.queues.clear();
    this.issued.clear();
    this.failing = [];
  }

  private queue(url: unknown): Queue {
    check(typeof url === 'string' && /^https?:\/\//.test(url), 'QueueUrl is required', 'InvalidAddress');
    let queue = this.queues.get(url);
    if (!queue) this.queues.set(url, (queue = { messages: [], sent: [], dedup: new Map() }));
    return queue;
  }

  private send(
    url: string,
    input: Wire,
  ): { MessageId: string; MD5OfMessageBody: string; SequenceNumber?: string } {
    const queue = this.queue(url);
    const fifo = url.endsWith('.fifo');
    const body = input.MessageBody;
    check(
      typeof body === 'string' && body.length > 0,
      'The request must contain the parameter MessageBody.',
      'MissingParameter',
    );
    check(
      Buffer.byteLength(body) <= MAX_MESSAGE_BYTES,
      `message longer than ${MAX_MESSAGE_BYTES} bytes`,
      'InvalidParameterValue',
    );
    if (fifo) {
      check(
        input.MessageGroupId,
        'The request must contain the parameter MessageGroupId.',
        'MissingParameter',
      );
      check(
        input.DelaySeconds === undefined || input.DelaySeconds === 0,
        'FIFO queues take no per-message DelaySeconds',
        'InvalidParameterValue',
      );
    } else {
      check(
        input.MessageDeduplicationId === undefined,
        'MessageDeduplicationId is only for FIFO queues',
        'InvalidParameterValue',
      );
    }
    const now = this.now();
    if (fifo) {
      const dedupId: string = input.MessageDeduplicationId ?? createHash('sha256').update(body).digest('hex');
      const earlier = queue.dedup.get(dedupId);
      if (earlier && now - earlier.at < DEDUP_MS) {
        return {
          MessageId: earlier.messageId,
          MD5OfMessageBody: md5(body),
          ...(earlier.sequenceNumber ? { SequenceNumber: earlier.sequenceNumber } : {}),
        };
      }
    }
    const sequenceNumber = fifo ? String(++this.sequence).padStart(20, '0') : undefined;
    const message: SqsMessage = {
      messageId: randomUUID(),
      body,
      messageAttributes: input.MessageAttributes,
      messageGroupId: input.MessageGroupId,
      messageDeduplicationId: input.MessageDeduplicationId,
      delaySeconds: input.DelaySeconds,
      sequenceNumber,
      sentAt: now,
      visibleAt: now + (input.DelaySeconds ?? 0) * 1000,
      receiveCount: 0,
      receiptHandle: undefined,
    };
    if (fifo) {
      const dedupId: string = input.MessageDeduplicationId ?? createHash('sha256').update(body).digest('hex');
      queue.dedup.set(dedupId, { messageId: message.messageId, sequenceNumber, at: now });
    }
    queue.messages.push(message);
    queue.sent.push(message);
    return {
      MessageId: message.messageId,
      MD5OfMessageBody: md5(body),
      ...(sequenceNumber ? { SequenceNumber: sequenceNumber } : {}),
    };
  }

  /** Deletes by the latest receipt handle; an older one (or one of a deleted message) succeeds and deletes nothing. */
  private deleteByHandle(queue: Queue, handle: unknown): void {
    const message = queue.messages.find((m) => m.receiptHandle !== undefined && m.receiptHandle === handle);
    if (message) queue.messages.splice(queue.messages.indexOf(message), 1);
    else if (!(typeof handle === 'string' && this.issued.has(handle))) this.byHandle(queue, handle);
  }

  private byHandle(queue: Queue, handle: unknown): SqsMessage {
    const message = queue.messages.find((m) => m.receiptHandle !== undefined && m.receiptHandle === handle);
    if (!message)
      throw new StubError(
        400,
        'ReceiptHandleIsInvalid',
        `The receipt handle "${String(handle)}" is not valid.`,
      );
    return message;
  }

  private batch<T>(entries: unknown, each: (entry: Wire) => T): { Successful: T[]; Failed: unknown[] } {
    check(
      Array.isArray(entries) && entries.length > 0,
      'There should be at least one entry in the request.',
      'EmptyBatchRequest',
    );
    check(
      entries.length <= 10,
      'Maximum number of entries per request are 10.',
      'TooManyEntriesInBatchRequest',
    );
    const ids = entries.map((e: Wire) => e.Id);
    check(
      new Set(ids).size === ids.length,
      'Two or more batch entries have the same Id.',
      'BatchEntryIdsNotDistinct',
    );
    const Successful: T[] = [];
    const Failed: unknown[] = [];
    for (const entry of entries) {
      const fault = this.failing.find((f) => f.times > 0 && f.match(entry));
      if (fault) {
        fault.times--;
        Failed.push({ Id: entry.Id, Code: fault.code, Message: 'failed by the stub', SenderFault: false });
        continue;
      }
      try {
        Successful.push(each(entry));
      } catch (error) {
        if (!(error instanceof StubError)) throw error;
        Failed.push({ Id: entry.Id, Code: error.code, Message: error.message, SenderFault: true });
      }
    }
    return { Successful, Failed };
  }

  readonly operations: Readonly<Record<string, (input: Wire) => unknown>> = {
    SendMessage: (input) => this.send(input.QueueUrl, input),
    SendMessageBatch: (input) => {
      this.queue(input.QueueUrl);
      const total = (input.Entries ?? []).reduce(
        (n: number, e: Wire) => n + Buffer.byteLength(String(e.MessageBody ?? '')),
        0,
      );
      check(
        total <= MAX_MESSAGE_BYTES,
        `Batch requests cannot be longer than ${MAX_MESSAGE_BYTES} bytes.`,
        'BatchRequestTooLong',
      );
      return this.batch(input.Entries, (entry) => ({ Id: entry.Id, ...this.send(input.QueueUrl, entry) }));
    },
    ReceiveMessage: (input) => {
      const queue = this.queue(input.QueueUrl);
      const max = input.MaxNumberOfMessages ?? 1;
      check(
        Number.isInteger(max) && max >= 1 && max <= 10,
        'MaxNumberOfMessages must be 1 to 10',
        'InvalidParameterValue',
      );
      const visibility = (input.VisibilityTimeout ?? 30) * 1000;
      const wanted = new Set<string>([
        ...(input.AttributeNames ?? []),
        ...(input.MessageSystemAttributeNames ?? []),
      ]);
      const now = this.now();
      // A FIFO group with a message in flight is held back; one call may return several of a group.
      const blockedGroups = new Set(
        queue.messages
          .filter((m) => m.messageGroupId !== undefined && m.receiveCount > 0 && m.visibleAt > now)
          .map((m) => m.messageGroupId!),
      );
      const out: unknown[] = [];
      for (const m of queue.messages) {
        if (out.length >= max) break;
        if (m.messageGroupId !== undefined && blockedGroups.has(m.messageGroupId)) continue;
        if (m.visibleAt > now) continue;
        m.receiveCount++;
        m.visibleAt = now + visibility;
        m.receiptHandle = `${m.messageId}#${randomUUID()}`;
        this.issued.add(m.receiptHandle);
        const all: Record<string, string | undefined> = {
          ApproximateReceiveCount: String(m.receiveCount),
          SentTimestamp: String(m.sentAt),
          ApproximateFirstReceiveTimestamp: String(now),
          MessageGroupId: m.messageGroupId,
          MessageDeduplicationId: m.messageDeduplicationId,
          SequenceNumber: m.sequenceNumber,
        };
        const attributes = Object.fromEntries(
          Object.entries(all).filter(([k, v]) => v !== undefined && (wanted.has('All') || wanted.has(k))),
        );
        out.push({
          MessageId: m.messageId,
          ReceiptHandle: m.receiptHandle,
          MD5OfBody: md5(m.body),
          Body: m.body,
          ...(Object.keys(attributes).length > 0 ? { Attributes: attributes } : {}),
          ...(m.messageAttributes && (input.MessageAttributeNames ?? []).length > 0
            ? { MessageAttributes: m.messageAttributes }
            : {}),
        });
      }
      return out.length > 0 ? { Messages: out } : {};
    },
    DeleteMessage: (input) => {
      const queue = this.queue(input.QueueUrl);
      this.deleteByHandle(queue, input.ReceiptHandle);
      return {};
    },
    DeleteMessageBatch: (input) => {
      const queue = this.queue(input.QueueUrl);
      return this.batch(input.Entries, (entry) => {
        this.deleteByHandle(queue, entry.ReceiptHandle);
        return { Id: entry.Id };
      });
    },
    ChangeMessageVisibility: (input) => {
      const queue = this.queue(input.QueueUrl);
      const message = this.byHandle(queue, input.ReceiptHandle);
      const timeout = input.VisibilityTimeout;
      check(
        Number.isInteger(timeout) && timeout >= 0 && timeout <= 43_200,
        'VisibilityTimeout must be 0 to 43200',
        'InvalidParameterValue',
      );
      if (message.visibleAt <= this.now())
        throw new StubError(400, 'MessageNotInflight', 'The message is not in flight.');
      message.visibleAt = this.now() + timeout * 1000;
      return {};
    },
  };
}
