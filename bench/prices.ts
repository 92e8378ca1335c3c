/**
 * The one price table bench/cost.ts uses.
 * Source: AWS public price lists, us-east-1, as of 2026-12-04; verify before relying on them.
 */
export const PRICES_AS_OF = '2026-12-04';
export const PRICES_SOURCE = `AWS public price lists, us-east-1, as of ${PRICES_AS_OF}; verify before relying`;

export const PRICES = {
  lambdaGbSecond: 0.0000133334, // arm64
  lambdaRequest: 0.2 / 1e6,
  sqsFifoRequest: 0.5 / 1e6, // each 64 KB chunk of a payload is one request
  sqsStandardRequest: 0.4 / 1e6, // SES inbound's queue; each 64 KB chunk is one request
  eventBridgeEvent: 1.0 / 1e6, // custom events, each 64 KB chunk
  schedulerInvocation: 1.0 / 1e6,
  s3Put: 0.005 / 1000, // PUT, COPY, POST, LIST
  s3Get: 0.0004 / 1000, // GET and all other requests
  secretMonth: 0.4,
  secretsApiCall: 0.05 / 10_000,
  dynamoWriteUnit: 0.625 / 1e6, // on-demand; storage negligible
  dynamoReadUnit: 0.125 / 1e6,
  logsIngestGb: 0.5,
  customMetricMonth: 0.3,
  alarmMetricMonth: 0.1, // standard resolution
  dashboardMonth: 3.0,
  sesInboundMessage: 0.1 / 1000, // SES receiving: each message accepted
  sesInboundChunk: 0.09 / 1000, // SES receiving: each 256 KB of an incoming message
} as const;

/** Settings the prices are applied with. */
export const SETTINGS = {
  workerMemoryMb: 512,
  dispatcherMemoryMb: 256,
  /** Worker environments that each keep their own secret cache: worker.maxConcurrency's default. */
  workerEnvironments: 20,
  /** Every 5 minutes for 30 days. */
  ticksPerMonth: 8_640,
} as const;
