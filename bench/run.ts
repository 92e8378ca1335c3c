import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DovecotServer } from '../test/support/dovecot';

/**
 * Runs one client process the same way for every client: under GNU time (`/usr/bin/time -f '%M %U
 * %S'`: peak RSS and CPU seconds from wait4's rusage, i.e. the kernel's accounting for the process),
 * timed by the harness from spawn to exit, so start-up and shutdown are included.
 */

export const TIME_BINARY = '/usr/bin/time';

export interface RunResult {
  /** Wall-clock milliseconds from spawn to exit. */
  readonly ms: number;
  /** Peak resident set size in KiB, as GNU time reports it. */
  readonly maxRssKb: number;
  /** CPU time of the process (all its threads), user and system, in milliseconds. */
  readonly cpuMs: { readonly user: number; readonly system: number };
  /**
   * CPU time the rest of the machine used meanwhile (the POP3 server, kernel threads doing the
   * client's journal commits and network work), in milliseconds: all CPUs' busy time from
   * /proc/stat over the run, minus the client's own. Undefined where /proc/stat is missing.
   */
  readonly restCpuMs: number | undefined;
  readonly stdout: string;
  readonly stderr: string;
}

export function requireTime(): void {
  if (!existsSync(TIME_BINARY)) throw new Error(`${TIME_BINARY} is missing: apt-get install -y time`);
}

export async function runMeasured(
  command: string,
  args: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
): Promise<RunResult> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-time-'));
  const timeFile = join(dir, 'time.txt');
  try {
    const busyBefore = machineBusyMs();
    const started = process.hrtime.bigint();
    const child = spawn(TIME_BINARY, ['-f', '%M %U %S', '-o', timeFile, command, ...args], {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const code = await new Promise<number | null>((resolve, reject) => {
      child.once('error', reject);
      child.once('exit', (c) => resolve(c));
    });
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    const busyAfter = machineBusyMs();
    if (code !== 0) throw new Error(`${command} exited with ${code}: ${stderr.trim()} ${stdout.trim()}`);
    const lines = readFileSync(timeFile, 'utf8').trim().split('\n');
    const [rss, user, system] = lines[lines.length - 1]!.split(' ').map(Number);
    const cpuMs = { user: user! * 1000, system: system! * 1000 };
    const restCpuMs =
      busyBefore === undefined || busyAfter === undefined
        ? undefined
        : Math.max(0, busyAfter - busyBefore - cpuMs.user - cpuMs.system);
    return { ms, maxRssKb: rss!, cpuMs, restCpuMs, stdout, stderr };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Busy CPU time of the whole machine so far (user, nice, system, irq, softirq over all CPUs, from
 * the first line of /proc/stat), in milliseconds, or undefined without /proc/stat. USER_HZ is 100
 * on Linux.
 */
function machineBusyMs(): number | undefined {
  if (!existsSync('/proc/stat')) return undefined;
  const fields = readFileSync('/proc/stat', 'utf8')
    .split('\n', 1)[0]!
    .trim()
    .split(/\s+/)
    .slice(1)
    .map(Number);
  const [user, nice, system, , , irq, softirq] = fields;
  return (user! + nice! + system! + irq! + softirq!) * 10;
}

/** Number of files and their total size, directly in `dir`. */
export function filesIn(dir: string): { count: number; bytes: number } {
  let count = 0;
  let bytes = 0;
  for (const name of readdirSync(dir)) {
    const st = statSync(join(dir, name));
    if (!st.isFile()) continue;
    count += 1;
    bytes += st.size;
  }
  return { count, bytes };
}

/** The file system type of `path`, as df reports it (for the benchmarks' header lines). */
export function fsType(path: string): string {
  const out = spawnSync('df', ['--output=fstype', path], { encoding: 'utf8' }).stdout ?? '';
  return out.trim().split('\n')[1]?.trim() || 'unknown';
}

/** Milliseconds, rounded, right-aligned in six columns (for the per-round lines). */
export function fmtMs(ms: number): string {
  return ms.toFixed(0).padStart(6);
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export function mb(kb: number): string {
  return (kb / 1024).toFixed(1);
}

/**
 * Where the benchmarks put Dovecot (its config, state and the mailbox): tmpfs when there is one.
 * Dovecot unlinks every drained message at QUIT, and ext4 without a journal (as here) makes each
 * new file scan past the inodes freed in the last seconds to minutes (`recently_deleted()`), so a
 * mailbox on the same disk as the clients' output would slow down whichever client creates its
 * files next, by an amount that depends on which inode group each directory landed in.
 */
export function defaultServerRoot(): string {
  return existsSync('/dev/shm') ? '/dev/shm' : tmpdir();
}

/** Starts Dovecot with its temp directory (and the test certificates) under `root`. */
export async function startDovecot(root: string): Promise<DovecotServer> {
  // DovecotServer and the certificate helper take os.tmpdir(), which follows TMPDIR.
  const saved = process.env.TMPDIR;
  process.env.TMPDIR = root;
  try {
    return await DovecotServer.start();
  } finally {
    if (saved === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = saved;
  }
}

/** Delivers `messages` into the test mailbox, which must be empty (the previous run drained it). */
export function seedMailbox(server: DovecotServer, messages: Buffer[]): Buffer[] {
  if (server.mailboxCount() !== 0) throw new Error('mailbox not empty before seeding');
  server.deliver(messages);
  return messages;
}

export interface RoundsOptions<C extends string> {
  readonly rounds: number;
  /** Rounds run first and not counted. */
  readonly warmup: number;
  /** Every client, in the first round's order. */
  readonly clients: readonly C[];
  /** Whether a client runs in a round (`measured`: not a warm-up; `round` counts those from 0). Default: always. */
  readonly include?: (who: C, measured: boolean, round: number) => boolean;
  /** One run of one client, verified. */
  readonly once: (who: C) => Promise<RunResult>;
  /** The per-round ratio printed, `a/b`. */
  readonly ratio: readonly [C, C];
  /** Also print each run's CPU time (user + sys, ms) in the per-round line. */
  readonly cpu?: boolean;
}

/**
 * The benchmarks' rounds: every client once per round, the order rotating from round to round (so
 * that no client always runs first, on a cold or a warm machine), a line per round, and the
 * measured rounds' results per client.
 */
export async function runRounds<C extends string>(
  options: RoundsOptions<C>,
): Promise<Record<C, RunResult[]>> {
  const results = Object.fromEntries(options.clients.map((who) => [who, []])) as unknown as Record<
    C,
    RunResult[]
  >;
  const [a, b] = options.ratio;
  for (let r = 0; r < options.warmup + options.rounds; r++) {
    const measured = r >= options.warmup;
    const clients = options.clients.filter(
      (who) => options.include?.(who, measured, r - options.warmup) ?? true,
    );
    const order = clients.map((_, i) => clients[(i + r) % clients.length]!);
    const row = {} as Record<C, RunResult>;
    for (const who of order) row[who] = await options.once(who);
    if (measured) for (const who of clients) results[who].push(row[who]);
    const label = measured ? `round ${r - options.warmup + 1}` : `warm-up ${r + 1}`;
    console.log(
      `${label.padEnd(10)} ` +
        order
          .map(
            (who) =>
              `${who} ${fmtMs(row[who].ms)} ms ${mb(row[who].maxRssKb).padStart(6)} MB` +
              (options.cpu ? ` cpu ${fmtMs(row[who].cpuMs.user + row[who].cpuMs.system)} ms` : ''),
          )
          .join('   ') +
        `   ${a}/${b} ${(row[a].ms / row[b].ms).toFixed(2)}`,
    );
  }
  return results;
}
