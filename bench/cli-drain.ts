/**
 * Drain benchmark (issue 3): the product's CLI against mpop, same Dovecot, same mailbox, same TLS.
 *
 *   npm run bench:cli -- [--messages 1000] [--size 20480] [--rounds 5] [--warmup 1]
 *                        [--out-root DIR] [--server-root DIR] [--node-flags="--cpu-prof"]
 *
 * (`npm run bench:cli` builds first; `npx tsx bench/cli-drain.ts` needs a build in dist/.)
 *
 * The CLI is the real one, `node dist/pop3-poller.js poll --config FILE`, archiving into a
 * directory (`archive.dir`) and appending events to a file (`events.file`); mpop delivers into a
 * Maildir. Both over implicit TLS, trusting only the run's CA. Each round seeds the mailbox, runs
 * one client, verifies, re-seeds and runs the other; the order alternates between rounds. Times are
 * whole-process wall-clock (start-up and exit included); peak RSS and CPU time come from GNU time.
 * After every CLI run: mailbox empty, every message archived byte-exact, one "Message Archived"
 * line each (bench/clients.ts).
 *
 * Output goes under `--out-root` (default: the OS temp dir, a disk: fsync costs what it costs),
 * Dovecot lives under `--server-root` (default /dev/shm; see defaultServerRoot in run.ts). Output
 * is kept until the end, not deleted between runs (see bench/drain.ts on ext4 and freed inodes).
 * For the same reason, run it a few minutes after deleting many files (a test run does): on an
 * ext4 without a journal, the inode allocator passes over inodes freed in the last 60-360 s, and
 * creating a file then costs several times more, for both clients (docs/performance.md).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { requireCli, runCli, runMpop, sha256, type Target } from './clients';
import { makeMessages } from './mail';
import {
  defaultServerRoot,
  fsType,
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
    messages: { type: 'string', default: '1000' },
    size: { type: 'string', default: '20480' },
    rounds: { type: 'string', default: '5' },
    warmup: { type: 'string', default: '1' },
    'out-root': { type: 'string' },
    'server-root': { type: 'string' },
    /** Node options for the CLI (space-separated). */
    'node-flags': { type: 'string', default: '' },
  },
  strict: true,
});
const count = Number(args.messages);
const size = Number(args.size);
const rounds = Number(args.rounds);
const warmup = Number(args.warmup);
const outRoot = args['out-root'] ?? tmpdir();
const serverRoot = args['server-root'] ?? defaultServerRoot();
const nodeFlags = args['node-flags'].split(' ').filter(Boolean);

type Client = 'cli' | 'mpop';

async function main(): Promise<void> {
  requireTime();
  requireCli();
  const server = await startDovecot(serverRoot);
  const work = mkdtempSync(join(outRoot, 'bench-cli-'));
  const target: Target = { server, port: server.tlsPort };
  let run = 0;

  const once = async (who: Client): Promise<RunResult> => {
    const expected = new Set(seedMailbox(server, makeMessages(count, size, run * count)).map(sha256));
    const dir = join(work, `${who}-${++run}`);
    return who === 'cli' ? runCli(target, dir, expected, { nodeFlags }) : runMpop(target, dir, count);
  };

  try {
    console.log(
      `cli drain: ${count} × ${size} B over implicit TLS, ${rounds} rounds (+${warmup} warm-up), ` +
        `Dovecot on 127.0.0.1, node ${process.version}`,
    );
    console.log(
      `output under ${outRoot} (${fsType(outRoot)}), Dovecot under ${serverRoot} (${fsType(serverRoot)})` +
        (nodeFlags.length ? `, node flags ${nodeFlags.join(' ')}` : ''),
    );
    const results = await runRounds<Client>({
      rounds,
      warmup,
      clients: ['cli', 'mpop'],
      once,
      ratio: ['cli', 'mpop'],
    });
    const cli = median(results.cli.map((x) => x.ms));
    const mpop = median(results.mpop.map((x) => x.ms));
    console.log('');
    // CPU: the client's own (all threads), from GNU time; and the rest of the machine's meanwhile
    // (Dovecot, kernel threads). On a two-core machine the server competes for the same cores, so
    // the sum shows where wall time goes when it is not the disk or the network.
    console.log(
      '| client | median wall ms | min | max | median CPU ms (user + sys) | rest of machine CPU ms | peak RSS MB (max) |',
    );
    console.log('|---|---|---|---|---|---|---|');
    for (const who of ['cli', 'mpop'] as const) {
      const ms = results[who].map((x) => x.ms);
      const user = median(results[who].map((x) => x.cpuMs.user));
      const system = median(results[who].map((x) => x.cpuMs.system));
      const rest = results[who].map((x) => x.restCpuMs).filter((x): x is number => x !== undefined);
      const rss = Math.max(...results[who].map((x) => x.maxRssKb));
      const name = who === 'cli' ? 'pop3-poller poll (CLI)' : 'mpop';
      console.log(
        `| ${name} | ${median(ms).toFixed(0)} | ${Math.min(...ms).toFixed(0)} | ${Math.max(...ms).toFixed(0)} | ` +
          `${(user + system).toFixed(0)} (${user.toFixed(0)} + ${system.toFixed(0)}) | ` +
          `${rest.length ? median(rest).toFixed(0) : 'n/a'} | ${mb(rss)} |`,
      );
    }
    const ratio = cli / mpop;
    const perRound = results.cli.map((x, i) => x.ms / results.mpop[i]!.ms);
    console.log('');
    console.log(
      `median ratio cli/mpop = ${ratio.toFixed(3)} (median of per-round ratios ${median(perRound).toFixed(3)}; ` +
        `lower is better; target ≤ 1.0)`,
    );
    console.log(ratio <= 1 ? 'PASS: no slower than mpop' : 'FAIL: slower than mpop');
  } finally {
    await server.stop();
    rmSync(work, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
