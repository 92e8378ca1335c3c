import { StubError, check, type Wire } from './http';

/**
 * DynamoDB (JSON 1.0, `DynamoDB_20120810.<Operation>`). Tables must be declared first
 * (`createTable`, or `tables` when starting the stub) so the stub knows their keys. Items are kept
 * in their wire form (`{ id: { S: '…' } }`). Scan returns items in key order.
 *
 * Expressions: UpdateExpression `SET a = :v, #b = :w` only; ConditionExpression
 * `attribute_exists(x)` / `attribute_not_exists(x)` joined by AND only. Anything else
 * (FilterExpression, ProjectionExpression, REMOVE/ADD, functions) is a ValidationException naming
 * the stub, never silently ignored.
 */

type Item = Record<string, Wire>;

export interface TableKey {
  readonly hashKey: string;
  readonly rangeKey?: string;
}

interface Table {
  readonly key: TableKey;
  readonly items: Map<string, Item>;
}

export interface Capacity {
  readonly read: number;
  readonly write: number;
}

const MAX_SCAN_PAGE_BYTES = 1024 * 1024;

/** DynamoDB's item size: UTF-8 attribute names plus value sizes. */
export function itemSize(item: Item): number {
  let size = 0;
  for (const [name, value] of Object.entries(item)) size += Buffer.byteLength(name) + valueSize(value);
  return size;
}

function valueSize(value: Wire): number {
  const [type, v] = Object.entries(value ?? {})[0] ?? [];
  switch (type) {
    case 'S':
      return Buffer.byteLength(v as string);
    case 'N':
      return (
        Math.ceil(
          String(v)
            .replace(/^-|\.|e.*$/gi, '')
            .replace(/^0+/, '').length / 2,
        ) + 1
      );
    case 'B':
      return Buffer.from(v as string, 'base64').length;
    case 'BOOL':
    case 'NULL':
      return 1;
    case 'SS':
      return (v as string[]).reduce((n, s) => n + Buffer.byteLength(s), 0);
    case 'NS':
      return (v as string[]).reduce((n, s) => n + valueSize({ N: s }), 0);
    case 'BS':
      return (v as string[]).reduce((n, s) => n + Buffer.from(s, 'base64').length, 0);
    case 'M':
      return (
        3 + Object.entries(v as Item).reduce((n, [k, x]) => n + Buffer.byteLength(k) + 1 + valueSize(x), 0)
      );
    case 'L':
      return 3 + (v as Wire[]).reduce((n: number, x) => n + 1 + valueSize(x), 0);
  }
  throw new StubError(400, 'ValidationException', `unsupported attribute value ${JSON.stringify(value)}`);
}

const unsupported = (what: string): StubError =>
  new StubError(400, 'ValidationException', `aws-stub: ${what} is not supported by the stub`);

export class DynamoDbStub {
  private readonly tables = new Map<string, Table>();
  private unprocessed = 0;
  /** Capacity units of the last call, for the call log. */
  lastCapacity: Capacity | undefined;

  constructor(private readonly scanPageBytes = MAX_SCAN_PAGE_BYTES) {}

  createTable(name: string, key: TableKey): void {
    if (!this.tables.has(name)) this.tables.set(name, { key, items: new Map() });
  }
  /** Items in key order, wire form. */
  items(table: string): Item[] {
    return [...this.table(table).items.entries()]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([, i]) => i);
  }
  item(table: string, key: Item): Item | undefined {
    const t = this.table(table);
    return t.items.get(this.keyString(t, key));
  }
  putItem(table: string, item: Item): void {
    const t = this.table(table);
    t.items.set(this.keyString(t, item, true), structuredClone(item));
  }
  /** The next BatchWriteItem leaves its last `count` requests unprocessed (and returns them). */
  leaveUnprocessed(count: number): void {
    this.unprocessed = count;
  }
  reset(): void {
    for (const t of this.tables.values()) t.items.clear();
    this.unprocessed = 0;
  }

  private table(name: unknown): Table {
    const table = typeof name === 'string' ? this.tables.get(name) : undefined;
    if (!table) throw new StubError(400, 'ResourceNotFoundException', 'Requested resource not found');
    return table;
  }

  /** The item's key as a string; with `fromItem`, other attributes are allowed. */
  private keyString(table: Table, key: Item, fromItem = false): string {
    const names = [table.key.hashKey, ...(table.key.rangeKey ? [table.key.rangeKey] : [])];
    const ok =
      names.every((n) => key?.[n] !== undefined) && (fromItem || Object.keys(key).length === names.length);
    if (!ok)
      throw new StubError(400, 'ValidationException', 'The provided key element does not match the schema');
    return JSON.stringify(names.map((n) => key[n]));
  }

  private keyOf(table: Table, item: Item): Item {
    const key: Item = { [table.key.hashKey]: item[table.key.hashKey] };
    if (table.key.rangeKey) key[table.key.rangeKey] = item[table.key.rangeKey];
    return key;
  }

  private name(token: string, names: Record<string, string> | undefined): string {
    if (!token.startsWith('#')) return token;
    const name = names?.[token];
    check(
      name !== undefined,
      `An expression attribute name used in the document path is not defined; attribute name: ${token}`,
    );
    return name;
  }

  private checkCondition(input: Wire, existing: Item | undefined): void {
    const expression: string | undefined = input.ConditionExpression;
    if (expression === undefined) return;
    for (const clause of expression.split(/\s+AND\s+/i)) {
      const m = /^\s*(attribute_exists|attribute_not_exists)\s*\(\s*([#\w]+)\s*\)\s*$/.exec(clause);
      if (!m) throw unsupported(`ConditionExpression "${clause.trim()}"`);
      const present = existing?.[this.name(m[2]!, input.ExpressionAttributeNames)] !== undefined;
      if (present !== (m[1] === 'attribute_exists')) {
        throw new StubError(400, 'ConditionalCheckFailedException', 'The conditional request failed', {
          ...(input.ReturnValuesOnConditionCheckFailure === 'ALL_OLD' && existing
            ? { Item: existing as Wire }
            : {}),
        });
      }
    }
  }

  private rejectUnsupported(input: Wire, names: string[]): void {
    for (const n of names) if (input[n] !== undefined) throw unsupported(n);
  }

  private withCapacity(
    input: Wire,
    table: string,
    units: Capacity,
    output: Record<string, unknown>,
  ): unknown {
    this.lastCapacity = units;
    if (input.ReturnConsumedCapacity === 'TOTAL' || input.ReturnConsumedCapacity === 'INDEXES') {
      output.ConsumedCapacity = {
        TableName: table,
        CapacityUnits: units.read + units.write,
        ...(units.read ? { ReadCapacityUnits: units.read } : {}),
        ...(units.write ? { WriteCapacityUnits: units.write } : {}),
      };
    }
    return output;
  }

  readonly operations: Readonly<Record<string, (input: Wire) => unknown>> = {
    GetItem: (input) => {
      this.rejectUnsupported(input, ['ProjectionExpression', 'AttributesToGet']);
      const table = this.table(input.TableName);
      const item = table.items.get(this.keyString(table, input.Key));
      const read =
        Math.max(1, Math.ceil((item ? itemSize(item) : 0) / 4096)) * (input.ConsistentRead ? 1 : 0.5);
      return this.withCapacity(input, input.TableName, { read, write: 0 }, item ? { Item: item } : {});
    },
    PutItem: (input) => {
      this.rejectUnsupported(input, ['Expected', 'ConditionalOperator']);
      const table = this.table(input.TableName);
      const k = this.keyString(table, input.Item, true);
      const old = table.items.get(k);
      this.checkCondition(input, old);
      check(itemSize(input.Item) <= 400 * 1024, 'Item size has exceeded the maximum allowed size');
      table.items.set(k, input.Item);
      const write = Math.max(1, Math.ceil(Math.max(itemSize(input.Item), old ? itemSize(old) : 0) / 1024));
      return this.withCapacity(
        input,
        input.TableName,
        { read: 0, write },
        input.ReturnValues === 'ALL_OLD' && old ? { Attributes: old } : {},
      );
    },
    DeleteItem: (input) => {
      const table = this.table(input.TableName);
      const k = this.keyString(table, input.Key);
      const old = table.items.get(k);
      this.checkCondition(input, old);
      table.items.delete(k);
      const write = Math.max(1, Math.ceil((old ? itemSize(old) : 0) / 1024));
      return this.withCapacity(
        input,
        input.TableName,
        { read: 0, write },
        input.ReturnValues === 'ALL_OLD' && old ? { Attributes: old } : {},
      );
    },
    UpdateItem: (input) => {
      this.rejectUnsupported(input, ['AttributeUpdates', 'Expected', 'ConditionalOperator']);
      const table = this.table(input.TableName);
      const k = this.keyString(table, input.Key);
      const old: Item | undefined = table.items.get(k);
      this.checkCondition(input, old);
      const m = /^\s*SET\s+([\s\S]+)$/i.exec(input.UpdateExpression ?? '');
      if (!m) throw unsupported(`UpdateExpression "${input.UpdateExpression}" (SET a = :v, … only)`);
      const updated: Item = {};
      for (const assignment of m[1]!.split(',')) {
        const a = /^\s*([#\w]+)\s*=\s*(:\w+)\s*$/.exec(assignment);
        if (!a) throw unsupported(`UpdateExpression clause "${assignment.trim()}"`);
        const name = this.name(a[1]!, input.ExpressionAttributeNames);
        const value = input.ExpressionAttributeValues?.[a[2]!];
        check(
          value !== undefined,
          `An expression attribute value used in expression is not defined; attribute value: ${a[2]}`,
        );
        check(
          name !== table.key.hashKey && name !== table.key.rangeKey,
          `Cannot update attribute ${name}. This attribute is part of the key`,
        );
        updated[name] = value;
      }
      const item = { ...(old ?? input.Key), ...updated };
      table.items.set(k, item);
      const returned: Record<string, Item | undefined> = {
        ALL_NEW: item,
        ALL_OLD: old,
        UPDATED_NEW: updated,
        UPDATED_OLD:
          old &&
          Object.fromEntries(
            Object.keys(updated)
              .filter((n) => old[n] !== undefined)
              .map((n) => [n, old[n]]),
          ),
      };
      const attributes = returned[input.ReturnValues ?? 'NONE'];
      const write = Math.max(1, Math.ceil(Math.max(itemSize(item), old ? itemSize(old) : 0) / 1024));
      return this.withCapacity(
        input,
        input.TableName,
        { read: 0, write },
        attributes ? { Attributes: attributes } : {},
      );
    },
    Scan: (input) => {
      this.rejectUnsupported(input, [
        'FilterExpression',
        'ProjectionExpression',
        'ScanFilter',
        'AttributesToGet',
        'Segment',
        'TotalSegments',
        'IndexName',
        'Select',
      ]);
      const table = this.table(input.TableName);
      const limit: number = input.Limit ?? Infinity;
      check(limit >= 1, 'Limit must be at least 1');
      const keys = [...table.items.keys()].sort();
      let start = 0;
      if (input.ExclusiveStartKey) {
        const after = this.keyString(table, input.ExclusiveStartKey);
        start = keys.findIndex((k) => k > after);
        if (start < 0) start = keys.length;
      }
      const items: Item[] = [];
      let bytes = 0;
      let i = start;
      for (; i < keys.length && items.length < limit && bytes < this.scanPageBytes; i++) {
        const item = table.items.get(keys[i]!)!;
        items.push(item);
        bytes += itemSize(item);
      }
      const more = i < keys.length;
      const read = Math.max(1, Math.ceil(bytes / 4096)) * (input.ConsistentRead ? 1 : 0.5);
      return this.withCapacity(
        input,
        input.TableName,
        { read, write: 0 },
        {
          Items: items,
          Count: items.length,
          ScannedCount: items.length,
          ...(more && items.length > 0 ? { LastEvaluatedKey: this.keyOf(table, items.at(-1)!) } : {}),
        },
      );
    },
    BatchWriteItem: (input) => {
      const requests: Array<{ table: string; request: Wire }> = Object.entries(
        input.RequestItems ?? {},
      ).flatMap(([table, list]) => (list as Wire[]).map((request) => ({ table, request })));
      check(
        requests.length >= 1 && requests.length <= 25,
        'Too many items requested for the BatchWriteItem call',
      );
      const seen = new Set<string>();
      for (const { table, request } of requests) {
        const t = this.table(table);
        const k =
          table +
          this.keyString(t, request.PutRequest?.Item ?? request.DeleteRequest?.Key, !!request.PutRequest);
        check(!seen.has(k), 'Provided list of item keys contains duplicates');
        seen.add(k);
      }
      const keep = Math.max(0, requests.length - this.unprocessed);
      this.unprocessed = 0;
      let write = 0;
      const unprocessedItems: Record<string, unknown[]> = {};
      requests.forEach(({ table, request }, index) => {
        if (index >= keep) {
          (unprocessedItems[table] ??= []).push(request);
          return;
        }
        const t = this.table(table);
        if (request.PutRequest) {
          t.items.set(this.keyString(t, request.PutRequest.Item, true), request.PutRequest.Item);
          write += Math.max(1, Math.ceil(itemSize(request.PutRequest.Item) / 1024));
        } else {
          const k = this.keyString(t, request.DeleteRequest.Key);
          const old = t.items.get(k);
          t.items.delete(k);
          write += Math.max(1, Math.ceil((old ? itemSize(old) : 0) / 1024));
        }
      });
      this.lastCapacity = { read: 0, write };
      return { UnprocessedItems: unprocessedItems };
    },
  };
}
