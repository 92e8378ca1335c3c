/**
 * Latency benchmark (issues 3 and 12.4): 200 × 20 KB over a link with 50 ms round trips — the
 * product's CLI against mpop (pipelines), fetchmail (does not) and the raw pipelined floor
 * (bench/raw-floor.ts: login, then every command in one write, bytes discarded), same Dovecot, same
 * mailbox, same TLS. The floor is what any Node process must pay on this link; the CLI's ratio to
 * it is the cost of everything a real client adds (capabilities, the listing before the
 * retrievals, storing, announcing, and DELE only after both).
 *
 *   npm run bench:latency -- [--messages 200] [--size 20480] [--delay-ms 25] [--rounds 5]
 *                            [--fetchmail-rounds 1] [--warmup 1] [--out-root DIR] [--server-root DIR]
 *                            [--bin OTHER-BUILD/pop3-poller.js]
 *
 * (`npm run bench:latency` builds first; `npx tsx bench/latency.ts` needs a build in dist/.)
 *
 * The link is test/support/tcp-proxy.ts, started in this process in front of Dovecot's
 * implicit-TLS port: it delays every chunk by `--delay-ms` in each direction (25 ms each way = a
 * 50 ms round trip; the TCP handshake itself is not delayed, and TCP window effects are not
 * modelled). All clients connect through it. Each round seeds the mailbox before each client and
 * verifies after it (bench/clients.ts); the order of the clients rotates between rounds. fetchmail
 * sends one command per round trip (~35 s for 200 messages), so it runs only in the first
 * `--fetchmail-rounds` rounds (default 1); its figure is the median of those. Times are
 * whole-process wall-clock; peak RSS from GNU time.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { startTcpProxy } from '../test/support/tcp-proxy';
import { requireCli, runCli, runFetchmail, runMpop, runRawFloor, sha256, type Target } from './clients';
import { makeMessages } from './mail';
import {
  defaultServerRoot,
  mb,
  median,
  requireTime,
  runRounds,
  seedMailbox,
  startDovecot,
  type RunResult,
} from './run';

const { values: args } = parseArgs({
  options: {
    messages: { type: 'string', default: '200' },
    size: { type: 'string', default: '20480' },
    'delay-ms': { type: 'string', default: '25' },
    rounds: { type: 'string', default: '5' },
    'fetchmail-rounds': { type: 'string', default: '1' },
    warmup: { type: 'string', default: '1' },
    'out-root': { type: 'string' },
    'server-root': { type: 'string' },
    /** Another build of the CLI to run in place of dist/pop3-poller.js (an A/B by hand). */
    bin: { type: 'string' },
  },
  strict: true,
});
const count = Number(args.messages);
const size = Number(args.size);
const delayMs = Number(args['delay-ms']);
const rounds = Number(args.rounds);
const fetchmailRounds = Math.min(rounds, Number(args['fetchmail-rounds']));
const warmup = Number(args.warmup);
const outRoot = args['out-root'] ?? tmpdir();
const serverRoot = args['server-root'] ?? defaultServerRoot();

type Client = 'cli' | 'mpop' | 'raw' | 'fetchmail';
const NAMES: Record<Client, string> = {
  cli: 'pop3-poller poll (CLI)',
  mpop: 'mpop',
  raw: 'raw pipelined floor',
  fetchmail: 'fetchmail',
};

async function main(): Promise<void> {
  requireTime();
  requireCli();
  const server = await startDovecot(serverRoot);
  const proxy = await startTcpProxy({ targetPort: server.tlsPort, oneWayDelayMs: delayMs });
  const work = mkdtempSync(join(outRoot, 'bench-latency-'));
  const target: Target = { server, port: proxy.port };
  let run = 0;

  const once = async (who: Client): Promise<RunResult> => {
    const messages = seedMailbox(server, makeMessages(count, size, run * count));
    const dir = join(work, `${who}-${++run}`);
    if (who === 'cli') {
      return runCli(target, dir, new Set(messages.map(sha256)), args.bin ? { bin: resolve(args.bin) } : {});
    }
    if (who === 'mpop') return runMpop(target, dir, count);
    if (who === 'raw') return runRawFloor(target, count, size);
    return runFetchmail(target, dir, count);
  };

  try {
    console.log(
      `latency: ${count} × ${size} B over implicit TLS through a proxy adding ${delayMs} ms each way ` +
        `(${2 * delayMs} ms round trips); ${rounds} rounds (+${warmup} warm-up) of the CLI, mpop and ` +
        `the raw floor, ` +
        `fetchmail in the first ${fetchmailRounds}; node ${process.version}`,
    );
    const results = await runRounds<Client>({
      rounds,
      warmup,
      clients: ['cli', 'mpop', 'raw', 'fetchmail'],
      // fetchmail takes ~30 s a run: only in the first measured rounds.
      include: (who, measured, round) => who !== 'fetchmail' || (measured && round < fetchmailRounds),
      once,
      ratio: ['cli', 'raw'],
    });
    const med = (who: Client) => median(results[who].map((x) => x.ms));
    console.log('');
    console.log(
      '| client | runs | median wall ms | min | max | median CPU ms (user + sys) | peak RSS MB (max) |',
    );
    console.log('|---|---|---|---|---|---|---|');
    for (const who of ['cli', 'mpop', 'raw', 'fetchmail'] as const) {
      const ms = results[who].map((x) => x.ms);
      if (ms.length === 0) continue;
      const rss = Math.max(...results[who].map((x) => x.maxRssKb));
      const user = median(results[who].map((x) => x.cpuMs.user));
      const system = median(results[who].map((x) => x.cpuMs.system));
      console.log(
        `| ${NAMES[who]} | ${ms.length} | ${med(who).toFixed(0)} | ${Math.min(...ms).toFixed(0)} | ` +
          `${Math.max(...ms).toFixed(0)} | ${(user + system).toFixed(0)} (${user.toFixed(0)} + ${system.toFixed(0)}) | ` +
          `${mb(rss)} |`,
      );
    }
    const vsMpop = med('cli') / med('mpop');
    const vsRaw = med('cli') / med('raw');
    const perRound = results.cli.map((x, i) => x.ms / results.raw[i]!.ms);
    console.log('');
    console.log(`median ratio cli/mpop = ${vsMpop.toFixed(3)} (target ≤ 1.0)`);
    console.log(
      `median ratio cli/raw floor = ${vsRaw.toFixed(3)} (median of per-round ratios ` +
        `${median(perRound).toFixed(3)}; goal ≤ 1.1; the floor: ${med('raw').toFixed(0)} ms)`,
    );
    if (results.fetchmail.length > 0) {
      console.log(
        `median ratio cli/fetchmail = ${(med('cli') / med('fetchmail')).toFixed(3)} ` +
          `(fetchmail ${(med('fetchmail') / med('cli')).toFixed(1)}× slower)`,
      );
    }
    console.log(vsMpop <= 1 ? 'PASS: no slower than mpop' : 'FAIL: slower than mpop');
    console.log(
      vsRaw <= 1.1 ? 'PASS: within 1.1× the raw floor' : 'ABOVE GOAL: more than 1.1× the raw floor',
    );
  } finally {
    await proxy.close();
    await server.stop();
    rmSync(work, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
