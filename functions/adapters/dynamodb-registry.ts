import {
  BatchWriteItemCommand,
  GetItemCommand,
  ScanCommand,
  UpdateItemCommand,
  type AttributeValue,
  type DynamoDBClient,
  type WriteRequest,
} from '@aws-sdk/client-dynamodb';
import type { LastPollWriter, RegistryEntry, RegistryReader, RegistryWriter } from '../registry/ports';
import {
  decodeRecord,
  encodeRecord,
  REGISTRY_ITEM,
  type LastPoll,
  type MailboxRecord,
} from '../registry/record';
import { RegistryWriteError } from './errors';
import { backoffMs, describeSdkError, sleep as defaultSleep } from './sdk-errors';

/**
 * The mailbox registry in DynamoDB, item layout as REGISTRY_ITEM (functions/registry/record.ts)
 * describes: raw AttributeValues (`{ S: … }`), no marshalling library.
 *
 * Retries: a request that fails as a whole is the SDK's to retry (standard mode, 3 attempts with
 * jittered backoff); this adapter never loops on top of that. It only re-sends what the SDK cannot
 * see: the `UnprocessedItems` of a BatchWriteItem that succeeded, at most `unprocessedRounds` more
 * times with exponential backoff, then it throws a RegistryWriteError (errors.ts) naming how many
 * ids were not written.
 *
 * Writing records uses UpdateItem (`SET record, updatedAt`), one per record, not BatchWriteItem: a
 * PutRequest replaces the whole item, and re-importing a fleet would drop every mailbox's
 * `lastPoll` — the answer to "when was it last polled, and why did it fail?" — until its next
 * poll, and for a healthy empty mailbox that is up to a day. Both cost the same write units; the
 * per-item requests are sent `writeConcurrency` at a time.
 */
export interface DynamoDbRegistryOptions {
  /** Re-sends of a BatchWriteItem's UnprocessedItems after the first request. @default 3 */
  readonly unprocessedRounds?: number;
  /** Delay before the first re-send; doubles each round. @default 100 */
  readonly retryBaseDelayMs?: number;
  /** UpdateItem requests in flight at once in putRecords. @default 16 */
  readonly writeConcurrency?: number;
  readonly sleep?: (ms: number) => Promise<void>;
  /** For `updatedAt`. */
  readonly now?: () => Date;
}

/** BatchWriteItem takes at most 25 requests. */
export const BATCH_WRITE_LIMIT = 25;

const LAST_POLL_STATUSES = new Set(['ok', 'partial', 'failed', 'skipped']);

export class DynamoDbRegistry implements RegistryReader, LastPollWriter, RegistryWriter {
  private readonly unprocessedRounds: number;
  private readonly retryBaseDelayMs: number;
  private readonly writeConcurrency: number;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly now: () => Date;

  constructor(
    private readonly client: DynamoDBClient,
    readonly tableName: string,
    options: DynamoDbRegistryOptions = {},
  ) {
    this.unprocessedRounds = options.unprocessedRounds ?? 3;
    this.retryBaseDelayMs = options.retryBaseDelayMs ?? 100;
    this.writeConcurrency = Math.max(1, options.writeConcurrency ?? 16);
    this.sleep = options.sleep ?? defaultSleep;
    this.now = options.now ?? (() => new Date());
  }

  /** Every item, by a paginated Scan. A bad item becomes an entry with `problems`; it never throws the scan. */
  async *entries(): AsyncIterable<RegistryEntry> {
    let startKey: Record<string, AttributeValue> | undefined;
    do {
      let page;
      try {
        page = await this.client.send(
          new ScanCommand({
            TableName: this.tableName,
            ...(startKey ? { ExclusiveStartKey: startKey } : {}),
          }),
        );
      } catch (error) {
        throw new Error(`reading registry table "${this.tableName}" failed: ${describeSdkError(error)}`, {
          cause: error,
        });
      }
      for (const item of page.Items ?? []) {
        const entry = entryOf(item);
        if (entry) yield entry;
      }
      startKey = page.LastEvaluatedKey;
    } while (startKey !== undefined && Object.keys(startKey).length > 0);
  }

  /** One item by id (a strongly consistent GetItem), or undefined when there is none. */
  async entry(id: string): Promise<RegistryEntry | undefined> {
    try {
      const output = await this.client.send(
        new GetItemCommand({ TableName: this.tableName, Key: key(id), ConsistentRead: true }),
      );
      return output.Item ? entryOf(output.Item) : undefined;
    } catch (error) {
      throw new Error(
        `reading mailbox "${id}" from table "${this.tableName}" failed: ${describeSdkError(error)}`,
        {
          cause: error,
        },
      );
    }
  }

  /** Sets `lastPoll` only: the worker's IAM policy allows the attributes `id` and `lastPoll`, nothing else. */
  async writeLastPoll(id: string, lastPoll: LastPoll): Promise<void> {
    try {
      await this.client.send(
        new UpdateItemCommand({
          TableName: this.tableName,
          Key: key(id),
          UpdateExpression: `SET ${REGISTRY_ITEM.lastPoll} = :p`,
          ExpressionAttributeValues: { ':p': { S: JSON.stringify(lastPoll) } },
        }),
      );
    } catch (error) {
      throw new RegistryWriteError(
        [id],
        `writing the last poll of "${id}" failed: ${describeSdkError(error)}`,
        {
          cause: error,
        },
      );
    }
  }

  /**
   * Sets `record` and `updatedAt` of each id's item with UpdateItem, keeping its `lastPoll` (see the
   * class comment). After the first failure no further request is started; the error names how
   * many ids were not written (the ones that failed and the ones not tried).
   */
  async putRecords(records: readonly MailboxRecord[]): Promise<void> {
    const updatedAt = this.now().toISOString();
    const written = new Set<string>();
    let failure: unknown;
    let next = 0;
    const worker = async (): Promise<void> => {
      while (failure === undefined && next < records.length) {
        const record = records[next++]!;
        try {
          await this.client.send(
            new UpdateItemCommand({
              TableName: this.tableName,
              Key: key(record.id),
              // `record` is a DynamoDB reserved word: it needs a name placeholder.
              UpdateExpression: 'SET #record = :record, #updatedAt = :updatedAt',
              ExpressionAttributeNames: {
                '#record': REGISTRY_ITEM.record,
                '#updatedAt': REGISTRY_ITEM.updatedAt,
              },
              ExpressionAttributeValues: {
                ':record': { S: encodeRecord(record) },
                ':updatedAt': { S: updatedAt },
              },
            }),
          );
          written.add(record.id);
        } catch (error) {
          failure ??= error;
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.writeConcurrency, records.length) }, worker));
    if (failure !== undefined) {
      const missing = records.map((r) => r.id).filter((id) => !written.has(id));
      throw new RegistryWriteError(
        missing,
        `${missing.length} of ${records.length} mailbox records were not written to table "${this.tableName}" ` +
          `(${sample(missing)}): ${describeSdkError(failure)}`,
        { cause: failure },
      );
    }
  }

  /** Deletes the ids' items with BatchWriteItem, 25 at a time; an id that is not there is not an error. */
  async removeRecords(ids: readonly string[]): Promise<void> {
    const unique = [...new Set(ids)];
    for (let i = 0; i < unique.length; i += BATCH_WRITE_LIMIT) {
      const chunk = unique.slice(i, i + BATCH_WRITE_LIMIT);
      await this.batchWrite(chunk.map((id) => ({ DeleteRequest: { Key: key(id) } })));
    }
  }

  /** One BatchWriteItem, then its UnprocessedItems again, at most `unprocessedRounds` times. */
  private async batchWrite(requests: WriteRequest[]): Promise<void> {
    let pending = requests;
    for (let round = 0; ; round++) {
      let output;
      try {
        output = await this.client.send(
          new BatchWriteItemCommand({ RequestItems: { [this.tableName]: pending } }),
        );
      } catch (error) {
        // Already retried by the SDK.
        const ids = pending.map(requestId);
        throw new RegistryWriteError(
          ids,
          `${ids.length} registry items were not written to table "${this.tableName}" (${sample(ids)}): ` +
            describeSdkError(error),
          { cause: error },
        );
      }
      const unprocessed = output.UnprocessedItems?.[this.tableName] ?? [];
      if (unprocessed.length === 0) return;
      if (round >= this.unprocessedRounds) {
        const ids = unprocessed.map(requestId);
        throw new RegistryWriteError(
          ids,
          `${ids.length} registry items were still unprocessed in table "${this.tableName}" after ` +
            `${this.unprocessedRounds} retries (${sample(ids)}): provisioned throughput or a partition limit was exceeded`,
        );
      }
      await this.sleep(backoffMs(round + 1, this.retryBaseDelayMs));
      pending = unprocessed;
    }
  }
}

function key(id: string): Record<string, AttributeValue> {
  return { [REGISTRY_ITEM.partitionKey]: { S: id } };
}

function requestId(request: WriteRequest): string {
  const item = request.DeleteRequest?.Key ?? request.PutRequest?.Item;
  return item?.[REGISTRY_ITEM.partitionKey]?.S ?? '?';
}

/** Up to five ids, for a message. */
function sample(ids: readonly string[]): string {
  return ids.length <= 5 ? ids.join(', ') : `${ids.slice(0, 5).join(', ')}, …`;
}

/** An item as an entry; undefined for an item without a string id (not a registry item). */
function entryOf(item: Record<string, AttributeValue>): RegistryEntry | undefined {
  const id = item[REGISTRY_ITEM.partitionKey]?.S;
  if (id === undefined) return undefined;
  const recordAttribute = item[REGISTRY_ITEM.record];
  const lastPoll = parseLastPoll(item[REGISTRY_ITEM.lastPoll]?.S);
  const updatedAt = item[REGISTRY_ITEM.updatedAt]?.S;
  const extra = { ...(lastPoll ? { lastPoll } : {}), ...(updatedAt !== undefined ? { updatedAt } : {}) };
  if (recordAttribute === undefined) return { id, ...extra };
  if (recordAttribute.S === undefined) {
    return { id, problems: ['the "record" attribute is not a string'], ...extra };
  }
  const decoded = decodeRecord(id, recordAttribute.S);
  return decoded.ok ? { id, record: decoded.value, ...extra } : { id, problems: decoded.problems, ...extra };
}

/**
 * A last poll, leniently: it is a report, not configuration, so a malformed one is dropped (the
 * worker writes a fresh one) and unknown or ill-typed optional fields are left out.
 */
export function parseLastPoll(text: string | undefined): LastPoll | undefined {
  if (text === undefined) return undefined;
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (json === null || typeof json !== 'object' || Array.isArray(json)) return undefined;
  const o = json as Record<string, unknown>;
  if (typeof o.at !== 'string' || typeof o.status !== 'string' || !LAST_POLL_STATUSES.has(o.status)) {
    return undefined;
  }
  return {
    at: o.at,
    status: o.status as LastPoll['status'],
    ...(typeof o.code === 'string' ? { code: o.code } : {}),
    ...(typeof o.message === 'string' ? { message: o.message } : {}),
    ...(typeof o.archived === 'number' ? { archived: o.archived } : {}),
    ...(typeof o.lastArchivedAt === 'string' ? { lastArchivedAt: o.lastArchivedAt } : {}),
  };
}
