import { randomUUID } from 'node:crypto';
import { stat } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import type { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import type { S3Client } from '@aws-sdk/client-s3';
import type * as CloudFormationSdk from '@aws-sdk/client-cloudformation';
import type * as EventBridgeSdk from '@aws-sdk/client-eventbridge';
import { DirectoryArchiveReader } from '../adapters/directory-archive-reader';
import type * as EventBridgeSinkModule from '../adapters/eventbridge-sink';
import { JsonLinesEventSink } from '../adapters/jsonl-event-sink';
import type * as S3ClientModule from '../adapters/s3-client';
import type * as S3ReaderModule from '../adapters/s3-archive-reader';
import { checkAppendableFile, checkWritableDirectory } from '../adapters/writable-path';
import type { EventSink } from '../poller/ports';
import type { ReplayState } from '../replay/checkpoint';
import { ReplayError } from '../replay/errors';
import type { ArchiveReader } from '../replay/ports';
import { parseHeaderFilter, parseTime, type ReplayRange } from '../replay/range';
import { TokenBucket } from '../replay/rate';
import { replay as runReplay, type ReplayProgress, type ReplayResult } from '../replay/replay';
import { UsageError } from './command-args';
import { formatBytes } from './report';
import { DEFAULT_BUS_RATE, DEFAULT_STATE_DIR, REPLAY_OPTIONS } from './replay-help';
import { ReplayStateFile } from './replay-state';
import { stackArchive } from './replay-target';
import { stopOnSignals } from './stop-signals';

/* eslint-disable @typescript-eslint/no-require-imports -- AWS SDK modules are loaded on demand:
   a replay of a local archive into a file never loads them. */

/** What the command needs from the outside world; tests pass their own. */
export interface ReplayIo {
  readonly stdout: { write(text: string): unknown };
  readonly stderr: { write(text: string): unknown };
  /** Progress line on stderr. */
  readonly live: boolean;
  readonly clients: {
    s3(settings: { region?: string; endpoint?: string }): S3Client;
    eventBridge(region: string | undefined): EventBridgeClient;
    cloudFormation(region: string | undefined): CloudFormationClient;
  };
  /** Stop on SIGINT / SIGTERM (the process's); tests pass their own signal. */
  readonly stop?: AbortSignal;
}

const regionOf = (region: string | undefined) => (region !== undefined ? { region } : {});

export function defaultReplayIo(): ReplayIo {
  return {
    stdout: process.stdout,
    stderr: process.stderr,
    live: process.stderr.isTTY === true,
    clients: {
      s3: (settings) => {
        const { createS3Client } = require('../adapters/s3-client') as typeof S3ClientModule;
        return createS3Client({
          ...regionOf(settings.region),
          ...(settings.endpoint !== undefined ? { endpoint: settings.endpoint, forcePathStyle: true } : {}),
        });
      },
      eventBridge: (region) => {
        const { EventBridgeClient } = require('@aws-sdk/client-eventbridge') as typeof EventBridgeSdk;
        return new EventBridgeClient(regionOf(region));
      },
      cloudFormation: (region) => {
        const { CloudFormationClient } =
          require('@aws-sdk/client-cloudformation') as typeof CloudFormationSdk;
        return new CloudFormationClient(regionOf(region));
      },
    },
  };
}

type Values = {
  [K in keyof typeof REPLAY_OPTIONS]?: (typeof REPLAY_OPTIONS)[K]['type'] extends 'boolean'
    ? boolean
    : (typeof REPLAY_OPTIONS)[K] extends { multiple: true }
      ? string[]
      : string;
};

/** A replay request, checked: what a state file's `args` parse back into. */
interface Request {
  readonly source:
    | { readonly archive: string }
    | { readonly bucket: string; readonly prefix: string; readonly endpoint?: string }
    | { readonly stack: string };
  readonly region?: string;
  readonly range: ReplayRange;
  readonly destination:
    | { readonly file: string }
    | { readonly stdout: true }
    | { readonly bus: string }
    | { readonly stackBus: true }
    | undefined;
  readonly rate: number | undefined;
  readonly dryRun: boolean;
}

/** One run: what it replays, as whom, from where. */
interface Run {
  readonly request: Request;
  /** The options as the state file keeps them. */
  readonly args: readonly string[];
  readonly runId: string;
  readonly requestedAt: Date;
  readonly resumeAfter: string | undefined;
  /** Absent for a dry run, and until a new run has made it. */
  readonly stateFile: ReplayStateFile | undefined;
}

/**
 * `pop3-poller replay …`. Returns the exit status; throws UsageError (exit 2) for bad usage, and
 * ReplayError ESTATE (exit 1) for a state file that cannot be read or made.
 */
export async function replay(args: readonly string[], io: ReplayIo = defaultReplayIo()): Promise<number> {
  const values = parse(args);
  const run = values.resume !== undefined ? resumedRun(values, values.resume) : newRun(values);
  if (run === 'complete') {
    io.stderr.write('pop3-poller: that replay is complete; nothing to resume\n');
    return 0;
  }
  const { request } = run;
  const { reader, sink, busName } = await wireReplay(request, io);
  const stateFile = run.stateFile ?? (request.dryRun ? undefined : await newStateFile(run, values.state));
  const rate = request.rate ?? (busName !== undefined ? DEFAULT_BUS_RATE : 0);

  /*
   * The first SIGINT or SIGTERM stops the replay: no new read, the events in flight are published
   * and checkpointed, and the command says how to resume. A second exits at once; the state file
   * then holds the last checkpoint saved, and resuming repeats at most one batch.
   */
  const signals =
    io.stop === undefined
      ? stopOnSignals({
          stderr: io.stderr,
          live: io.live,
          finishing: 'publishing the events in flight',
          onExit: () =>
            stateFile?.path
              ? `resume with: pop3-poller replay --resume ${shellQuote(stateFile.path)}`
              : undefined,
        })
      : undefined;
  const stop = io.stop ?? signals?.signal;
  const started = Date.now();
  let result: ReplayResult;
  try {
    result = await runReplay(
      {
        reader,
        ...(sink ? { sink } : {}),
        ...(stateFile ? { checkpoints: stateFile } : {}),
        ...(rate > 0 && !request.dryRun ? { rate: new TokenBucket({ ratePerSecond: rate }) } : {}),
      },
      {
        runId: run.runId,
        requestedAt: run.requestedAt,
        range: request.range,
        ...(run.resumeAfter !== undefined ? { resumeAfter: run.resumeAfter } : {}),
        dryRun: request.dryRun,
        ...(stop ? { stop } : {}),
        onCorrupt: (error) =>
          io.stderr.write(`${io.live ? '\r\x1b[K' : ''}pop3-poller: ${error.code}: ${error.message}\n`),
        ...(io.live ? { onProgress: (p) => io.stderr.write(`\r\x1b[K${formatProgress(p)}`) } : {}),
      },
    );
  } finally {
    signals?.dispose();
  }
  if (io.live) io.stderr.write('\r\x1b[K');
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  if (stateFile) {
    const emitted = stateFile.current.emitted + result.events;
    await stateFile.write({ emitted, complete: result.status === 'complete' }).catch((error: unknown) => {
      io.stderr.write(`pop3-poller: ${(error as Error).message}\n`);
    });
  }
  report(io, run.runId, result, request.dryRun, seconds, stateFile?.path);
  if (result.status === 'stopped') return 75;
  if (result.status === 'failed') return result.error!.retryable ? 75 : 1;
  return result.corrupt.length > 0 ? 1 : 0;
}

function newRun(values: Values): Run {
  return {
    request: toRequest(values),
    args: canonicalArgs(values),
    runId: randomUUID(),
    requestedAt: new Date(),
    resumeAfter: undefined,
    stateFile: undefined,
  };
}

/** `--resume FILE`: the run of that state file, with `--rate` as given now if it is. */
function resumedRun(values: Values, file: string): Run | 'complete' {
  const others = Object.entries(values)
    .filter(([name, value]) => name !== 'resume' && name !== 'rate' && value !== undefined && value !== false)
    .map(([name]) => name);
  if (others.length > 0) {
    throw new UsageError(
      `--resume takes its options from the state file; only --rate may be given with it (not --${others[0]})`,
    );
  }
  const path = resolve(file);
  const state = ReplayStateFile.read(path);
  if (state.complete) return 'complete';
  const request = toRequest(parse(state.args));
  return {
    request: values.rate !== undefined ? { ...request, rate: parseRate(values.rate) } : request,
    args: state.args,
    runId: state.runId,
    requestedAt: new Date(state.requestedAt),
    resumeAfter: state.checkpoint ?? undefined,
    stateFile: new ReplayStateFile(path, state),
  };
}

/** A new run's state file, written before the first event (`--state`, or the default path). */
async function newStateFile(run: Run, given: string | undefined): Promise<ReplayStateFile> {
  const path = resolve(given ?? join(DEFAULT_STATE_DIR, `${run.runId}.json`));
  try {
    await checkWritableDirectory('replay state directory', dirname(path));
  } catch (error) {
    throw new ReplayError('ESTATE', (error as Error).message, { cause: error });
  }
  const at = run.requestedAt.toISOString();
  const initial: ReplayState = {
    version: 1,
    runId: run.runId,
    requestedAt: at,
    args: [...run.args],
    checkpoint: null,
    emitted: 0,
    complete: false,
    updatedAt: at,
  };
  const file = new ReplayStateFile(path, initial);
  await file.write({});
  return file;
}

/** The dry run's count on stdout; the summary, and how to resume an unfinished run, on stderr. */
function report(
  io: ReplayIo,
  runId: string,
  result: ReplayResult,
  dryRun: boolean,
  seconds: string,
  statePath: string | undefined,
): void {
  if (dryRun) {
    io.stdout.write(
      `${result.events} events of ${result.messages} messages (${result.bytes} octets, ${formatBytes(result.bytes)}) would be re-emitted\n`,
    );
  }
  io.stderr.write(`${summary(runId, result, dryRun, seconds)}\n`);
  if (result.status === 'complete') return;
  const why =
    result.status === 'stopped' ? 'stopped' : `failed: ${result.error!.code}: ${result.error!.message}`;
  io.stderr.write(`pop3-poller: replay ${why}\n`);
  if (statePath === undefined) return;
  const where = result.checkpoint ? `after ${result.checkpoint}` : 'before the first event';
  io.stderr.write(
    `pop3-poller: it stopped ${where}; resume with:\n  pop3-poller replay --resume ${shellQuote(statePath)}\n`,
  );
}

function parse(args: readonly string[]): Values {
  return parseArgs({ args: [...args], options: REPLAY_OPTIONS, strict: true }).values as Values;
}

/** The options checked, as a Request. Throws UsageError. */
function toRequest(v: Values): Request {
  const sources = (['archive', 'bucket', 'stack'] as const).filter((k) => v[k] !== undefined);
  if (sources.length !== 1) {
    throw new UsageError(
      sources.length === 0
        ? 'replay needs a source: --archive DIR, --bucket B or --stack NAME'
        : `replay takes one source, not ${sources.map((s) => `--${s}`).join(' and ')}`,
    );
  }
  if (v.bucket === undefined && (v.prefix !== undefined || v.endpoint !== undefined)) {
    throw new UsageError('--prefix and --endpoint go with --bucket');
  }
  if (v.archive !== undefined && v.region !== undefined && v['event-bus'] === undefined) {
    throw new UsageError('--region goes with --bucket, --stack or --event-bus');
  }
  const destinations = (['events-file', 'stdout', 'event-bus'] as const).filter((k) =>
    k === 'stdout' ? v.stdout === true : v[k] !== undefined,
  );
  if (destinations.length > 1) {
    throw new UsageError(
      `replay takes one destination, not ${destinations.map((d) => `--${d}`).join(' and ')}`,
    );
  }
  const dryRun = v['dry-run'] === true;
  const destination: Request['destination'] =
    v['events-file'] !== undefined
      ? { file: resolve(v['events-file']) }
      : v.stdout
        ? { stdout: true }
        : v['event-bus'] !== undefined
          ? { bus: v['event-bus'] }
          : v.stack !== undefined
            ? { stackBus: true }
            : undefined;
  if (destination === undefined && !dryRun) {
    throw new UsageError(
      'replay needs a destination: --events-file FILE, --stdout or --event-bus NAME (or --dry-run)',
    );
  }
  for (const id of v.account ?? []) {
    // Not only poll's account ids: SES-inbound accounts are named after their recipient.
    if (!/^[^/\s]{1,320}$/.test(id) || id === '.' || id === '..') {
      throw new UsageError(`--account "${id}" is not an account id (an archive folder name)`);
    }
  }
  let range: ReplayRange;
  try {
    range = {
      accounts: v.account ?? [],
      ...(v.since !== undefined ? { since: parseTime('--since', v.since) } : {}),
      ...(v.until !== undefined ? { until: parseTime('--until', v.until) } : {}),
      ...(v['prefix-key'] !== undefined ? { keyPrefix: v['prefix-key'] } : {}),
      headers: (v.header ?? []).map(parseHeaderFilter),
    };
  } catch (error) {
    if (error instanceof ReplayError) throw new UsageError(error.message);
    throw error;
  }
  if (range.since && range.until && range.until.getTime() <= range.since.getTime()) {
    throw new UsageError('--until must be later than --since');
  }
  return {
    source:
      v.archive !== undefined
        ? { archive: resolve(v.archive) }
        : v.bucket !== undefined
          ? {
              bucket: v.bucket,
              prefix: v.prefix ?? '',
              ...(v.endpoint !== undefined ? { endpoint: v.endpoint } : {}),
            }
          : { stack: v.stack! },
    ...(v.region !== undefined ? { region: v.region } : {}),
    range,
    destination,
    rate: v.rate !== undefined ? parseRate(v.rate) : undefined,
    dryRun,
  };
}

function parseRate(text: string): number {
  const rate = Number(text);
  if (!/^\d+(\.\d+)?$/.test(text) || !Number.isFinite(rate) || rate > 100_000) {
    throw new UsageError(
      `--rate expects events per second, a number from 0 (no limit) to 100000, not "${text}"`,
    );
  }
  return rate;
}

/** The options as a state file keeps them: paths absolute, without --state, --resume and --dry-run. */
function canonicalArgs(v: Values): string[] {
  const args: string[] = [];
  for (const [name, value] of Object.entries(v)) {
    if (name === 'state' || name === 'resume' || name === 'dry-run' || value === undefined || value === false)
      continue;
    const path = name === 'archive' || name === 'events-file';
    for (const one of Array.isArray(value) ? value : [value]) {
      if (one === true) args.push(`--${name}`);
      else args.push(`--${name}`, path ? resolve(String(one)) : String(one));
    }
  }
  return args;
}

/** The reader and the sink of a request (none in a dry run). */
async function wireReplay(
  request: Request,
  io: ReplayIo,
): Promise<{ reader: ArchiveReader; sink: EventSink | undefined; busName: string | undefined }> {
  const { source, region } = request;
  let reader: ArchiveReader;
  let stackBus: string | undefined;
  if ('archive' in source) {
    const info = await stat(source.archive).catch(() => undefined);
    if (!info?.isDirectory()) throw new UsageError(`--archive ${source.archive}: not a directory`);
    reader = new DirectoryArchiveReader({ dir: source.archive });
  } else {
    let bucket: string;
    let prefix: string;
    if ('stack' in source) {
      const found = await stackArchive(io.clients.cloudFormation(region), source.stack, region);
      ({ bucket, prefix } = found);
      stackBus = found.eventBus;
    } else {
      ({ bucket, prefix } = source);
    }
    const { S3ArchiveReader } = require('../adapters/s3-archive-reader') as typeof S3ReaderModule;
    const client = io.clients.s3({
      ...regionOf(region),
      ...('endpoint' in source && source.endpoint !== undefined ? { endpoint: source.endpoint } : {}),
    });
    reader = new S3ArchiveReader(client, { bucket, prefix });
  }
  const { destination } = request;
  if (request.dryRun || destination === undefined) return { reader, sink: undefined, busName: undefined };
  if ('file' in destination) {
    await checkAppendableFile('events file', destination.file);
    return { reader, sink: new JsonLinesEventSink({ file: destination.file }), busName: undefined };
  }
  if ('stdout' in destination)
    return { reader, sink: new JsonLinesEventSink({ stdout: true }), busName: undefined };
  const busName = 'bus' in destination ? destination.bus : stackBus!;
  const { EventBridgeSink } = require('../adapters/eventbridge-sink') as typeof EventBridgeSinkModule;
  return {
    reader,
    sink: new EventBridgeSink(io.clients.eventBridge(region), { eventBusName: busName }),
    busName,
  };
}

function formatProgress(p: ReplayProgress): string {
  return `replay: ${p.events} events of ${p.messages} messages, ${formatBytes(p.bytes)}; ${p.listed} listed${p.key ? `; at ${p.key}` : ''}`;
}

function summary(runId: string, r: ReplayResult, dryRun: boolean, seconds: string): string {
  const verb = dryRun ? 'would re-emit' : 're-emitted';
  return (
    `replay ${runId} ${dryRun ? 'dry run ' : ''}${r.status}: ${verb} ${r.events} events of ${r.messages} messages ` +
    `(${formatBytes(r.bytes)}); ${r.listed} listed, ${r.outOfRange} out of range, ${r.corrupt.length} corrupt; ${seconds} s`
  );
}

function shellQuote(text: string): string {
  return /^[\w@%+=:,./-]+$/.test(text) ? text : `'${text.replaceAll("'", "'\\''")}'`;
}
