import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { DynamoDbStub, type Capacity, type TableKey } from './dynamodb';
import { EventsStub } from './events';
import { StubError, jsonError, jsonResponse, type StubRequest, type StubResponse, type Wire } from './http';
import { S3Stub } from './s3';
import { SecretsStub } from './secrets';
import { SqsStub } from './sqs';

/**
 * A local AWS endpoint for the real SDK v3 clients and the Lambda bundles: one HTTP server on
 * 127.0.0.1 that dispatches by protocol (an `X-Amz-Target` header: SQS, EventBridge, Secrets
 * Manager, DynamoDB; anything else: S3, path-style). Requests need no valid signature.
 *
 * Every request is logged as a call `{ service, operation, requestBytes, responseBytes, … }`
 * (bytes: the HTTP bodies as sent on the wire, aws-chunked framing included), failed and
 * unimplemented ones too: an operation the stub does not implement is answered 400
 * `UnknownOperationException` and logged with `implemented: false`. Calls answered with an
 * error (injected faults, the SDK's retries of them, 412s) are logged and counted like any other.
 *
 * ```ts
 * const aws = await startAwsStub({ tables: { registry: { hashKey: 'id' } } });
 * Object.assign(process.env, aws.env()); // before the handler module creates its clients
 * process.env.JOBS_QUEUE_URL = aws.sqs.queueUrl('jobs.fifo'); // SQS sends to the QueueUrl's origin
 * // … run the handler …
 * expect(aws.counts()).toEqual({ 'S3.PutObject': 3, 'SQS.SendMessageBatch': 1 });
 * await aws.close();
 * ```
 *
 * A child process (a built bundle) needs only `{ PATH, ...aws.env() }`. With an explicit client
 * config use `aws.endpoints.s3` (`{ endpoint, forcePathStyle: true }`) and the like.
 */

export type ServiceName = 'S3' | 'SQS' | 'EventBridge' | 'SecretsManager' | 'DynamoDB' | 'Unknown';

export interface AwsCall {
  readonly service: ServiceName;
  readonly operation: string;
  readonly status: number;
  /** The error code answered, if any. */
  readonly error: string | undefined;
  readonly implemented: boolean;
  readonly requestBytes: number;
  readonly responseBytes: number;
  /** DynamoDB read/write capacity units the call would consume (on-demand: request units). */
  readonly capacity: Capacity | undefined;
  readonly at: number;
}

export interface Fault {
  /** Calls to fail, counting from the next one. @default 1 */
  readonly times?: number;
  /** Error code. @default 'InternalError' (S3) / 'InternalFailure' (JSON services) */
  readonly name?: string;
  /** @default 500 */
  readonly status?: number;
  readonly message?: string;
}

export interface AwsStubOptions {
  readonly region?: string;
  /** DynamoDB tables to declare, by name. */
  readonly tables?: Readonly<Record<string, TableKey>>;
  /** Scan's page cap in bytes of item size. @default 1 MiB, as DynamoDB */
  readonly scanPageBytes?: number;
  /** The clock for SQS visibility and delays. @default Date.now */
  readonly now?: () => number;
}

export interface AwsStub {
  readonly url: string;
  readonly endpoints: {
    readonly s3: { endpoint: string; forcePathStyle: true };
    readonly sqs: { endpoint: string };
    readonly eventBridge: { endpoint: string };
    readonly secretsManager: { endpoint: string };
    readonly dynamodb: { endpoint: string };
  };
  /** The variables a Lambda (or a child process) needs to reach the stub. */
  env(): Record<string, string>;
  calls(): AwsCall[];
  /** `{ 'S3.PutObject': 3, … }`. */
  counts(): Record<string, number>;
  /** Forgets the call log and the stored state (declared tables stay, empty) and faults. */
  reset(): void;
  /** Forgets the call log only. */
  resetCalls(): void;
  /** Fails the next calls of an operation, e.g. `fail('S3.PutObject', { times: 2, status: 503, name: 'SlowDown' })`. */
  fail(operation: string, fault?: Fault): void;
  readonly s3: S3Stub;
  readonly sqs: SqsStub;
  readonly events: EventsStub;
  readonly secrets: SecretsStub;
  readonly dynamodb: DynamoDbStub;
  close(): Promise<void>;
}

const JSON_SERVICES: Record<string, { service: ServiceName; contentType: string; namespace: string }> = {
  AmazonSQS: { service: 'SQS', contentType: 'application/x-amz-json-1.0', namespace: 'com.amazonaws.sqs' },
  AWSEvents: {
    service: 'EventBridge',
    contentType: 'application/x-amz-json-1.1',
    namespace: 'com.amazonaws.eventbridge',
  },
  secretsmanager: {
    service: 'SecretsManager',
    contentType: 'application/x-amz-json-1.1',
    namespace: 'com.amazonaws.secretsmanager',
  },
  DynamoDB_20120810: {
    service: 'DynamoDB',
    contentType: 'application/x-amz-json-1.0',
    namespace: 'com.amazonaws.dynamodb.v20120810',
  },
};

export async function startAwsStub(options: AwsStubOptions = {}): Promise<AwsStub> {
  const region = options.region ?? 'us-east-1';
  const now = options.now ?? Date.now;
  const s3 = new S3Stub();
  const sqs = new SqsStub(now);
  const events = new EventsStub();
  const secrets = new SecretsStub(region, now);
  const dynamodb = new DynamoDbStub(options.scanPageBytes);
  for (const [name, key] of Object.entries(options.tables ?? {})) dynamodb.createTable(name, key);
  const jsonOperations: Record<ServiceName, Readonly<Record<string, (input: Wire) => unknown>>> = {
    SQS: sqs.operations,
    EventBridge: events.operations,
    SecretsManager: secrets.operations,
    DynamoDB: dynamodb.operations,
    S3: {},
    Unknown: {},
  };
  let log: AwsCall[] = [];
  const faults = new Map<
    string,
    { times: number; name: string; status: number; message: string | undefined }
  >();

  interface Answer {
    service: ServiceName;
    operation: string;
    implemented: boolean;
    response: StubResponse;
    capacity?: Capacity;
  }
  async function respond(req: StubRequest): Promise<Answer> {
    const targetHeader = req.headers['x-amz-target'];
    if (typeof targetHeader === 'string') {
      const dot = targetHeader.indexOf('.');
      const json = JSON_SERVICES[targetHeader.slice(0, dot)];
      const operation = targetHeader.slice(dot + 1);
      const service = json?.service ?? 'Unknown';
      const contentType = json?.contentType ?? 'application/x-amz-json-1.1';
      const namespace = json?.namespace ?? 'com.amazonaws.unknown';
      const handler = jsonOperations[service][operation];
      const fail = (error: StubError, implemented = true): ReturnType<typeof respond> =>
        Promise.resolve({
          service,
          operation: operation || targetHeader,
          implemented,
          response: jsonError(contentType, error, namespace),
        });
      if (!handler) return fail(unknownOperation(`${service}.${operation}`), false);
      const fault = takeFault(`${service}.${operation}`);
      if (fault) return fail(fault);
      try {
        const input = req.body.length > 0 ? JSON.parse(req.body.toString('utf8')) : {};
        dynamodb.lastCapacity = undefined;
        const output = await handler(input);
        const capacity = service === 'DynamoDB' ? dynamodb.lastCapacity : undefined;
        return {
          service,
          operation,
          implemented: true,
          response: jsonResponse(contentType, 200, output),
          ...(capacity ? { capacity } : {}),
        };
      } catch (error) {
        return fail(asStubError(error));
      }
    }
    const operation = s3.operation(req);
    const handler = s3.operations[operation];
    if (!handler) {
      return {
        service: 'S3',
        operation,
        implemented: false,
        response: s3.errorResponse(req, unknownOperation(`S3.${operation}`)),
      };
    }
    const fault = takeFault(`S3.${operation}`);
    if (fault) return { service: 'S3', operation, implemented: true, response: s3.errorResponse(req, fault) };
    try {
      return { service: 'S3', operation, implemented: true, response: await handler(req) };
    } catch (error) {
      return {
        service: 'S3',
        operation,
        implemented: true,
        response: s3.errorResponse(req, asStubError(error)),
      };
    }
  }

  function takeFault(operation: string): StubError | undefined {
    const fault = faults.get(operation);
    if (!fault || fault.times <= 0) return undefined;
    if (--fault.times === 0) faults.delete(operation);
    return new StubError(fault.status, fault.name, fault.message ?? `injected by the stub (${operation})`);
  }

  const server = http.createServer((incoming, outgoing) => {
    const chunks: Buffer[] = [];
    incoming.on('data', (c: Buffer) => chunks.push(c));
    incoming.on('end', () => {
      const url = new URL(incoming.url ?? '/', 'http://stub');
      const req: StubRequest = {
        method: incoming.method ?? 'GET',
        path: url.pathname,
        query: url.searchParams,
        headers: incoming.headers,
        body: Buffer.concat(chunks),
      };
      respond(req)
        .catch((error: unknown): Answer => ({
          service: 'Unknown' as ServiceName,
          operation: 'StubCrash',
          implemented: false,
          response: jsonError('application/json', new StubError(500, 'StubCrash', String(error)), 'aws-stub'),
        }))
        .then(({ service, operation, implemented, response, capacity }) => {
          const body = req.method === 'HEAD' ? Buffer.alloc(0) : response.body;
          const errorCode = response.status >= 300 ? errorCodeOf(response) : undefined;
          log.push({
            service,
            operation,
            status: response.status,
            error: errorCode,
            implemented,
            requestBytes: req.body.length,
            responseBytes: body.length,
            capacity,
            at: Date.now(),
          });
          const headers: Record<string, string> = { ...response.headers };
          if (headers['content-length'] === undefined) headers['content-length'] = String(body.length);
          outgoing.writeHead(response.status, headers);
          outgoing.end(body);
        });
    });
  });
  server.keepAliveTimeout = 5000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  sqs.baseUrl = url;

  return {
    url,
    endpoints: {
      s3: { endpoint: url, forcePathStyle: true },
      sqs: { endpoint: url },
      eventBridge: { endpoint: url },
      secretsManager: { endpoint: url },
      dynamodb: { endpoint: url },
    },
    env: () => ({
      AWS_ENDPOINT_URL_S3: url,
      AWS_ENDPOINT_URL_SQS: url,
      AWS_ENDPOINT_URL_EVENTBRIDGE: url,
      AWS_ENDPOINT_URL_SECRETS_MANAGER: url,
      AWS_ENDPOINT_URL_DYNAMODB: url,
      AWS_REGION: region,
      AWS_ACCESS_KEY_ID: 'AKIDSTUBSTUBSTUBSTUB',
      AWS_SECRET_ACCESS_KEY: 'stub-secret-access-key',
    }),
    calls: () => [...log],
    counts: () => {
      const counts: Record<string, number> = {};
      for (const c of log)
        counts[`${c.service}.${c.operation}`] = (counts[`${c.service}.${c.operation}`] ?? 0) + 1;
      return counts;
    },
    reset: () => {
      log = [];
      faults.clear();
      s3.reset();
      sqs.reset();
      events.reset();
      secrets.reset();
      dynamodb.reset();
    },
    resetCalls: () => {
      log = [];
    },
    fail: (operation, fault = {}) => {
      const s3Op = operation.startsWith('S3.');
      faults.set(operation, {
        times: fault.times ?? 1,
        name: fault.name ?? (s3Op ? 'InternalError' : 'InternalFailure'),
        status: fault.status ?? 500,
        message: fault.message,
      });
    },
    s3,
    sqs,
    events,
    secrets,
    dynamodb,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function unknownOperation(name: string): StubError {
  return new StubError(400, 'UnknownOperationException', `aws-stub does not implement ${name}`);
}

function asStubError(error: unknown): StubError {
  if (error instanceof StubError) return error;
  if (error instanceof SyntaxError) return new StubError(400, 'SerializationException', error.message);
  return new StubError(
    500,
    'InternalFailure',
    `aws-stub: ${error instanceof Error ? error.stack : String(error)}`,
  );
}

function errorCodeOf(response: StubResponse): string | undefined {
  if (response.headers['x-amzn-errortype']) return response.headers['x-amzn-errortype'];
  return /<Code>([^<]*)<\/Code>/.exec(response.body.toString('utf8'))?.[1] ?? `HTTP${response.status}`;
}

export type { AwsStubOptions as Options, TableKey };
export type { S3Object, S3Checksum } from './s3';
export type { SqsMessage } from './sqs';
export type { StoredEvent } from './events';
