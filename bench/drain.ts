/**
 * Drain benchmark (issue 2): our drain-client against mpop, same Dovecot, same mailbox, same TLS.
 *
 *   npm run bench:drain -- [--messages 1000] [--size 20480] [--rounds 5] [--warmup 1]
 *                          [--tls implicit|starttls] [--out-root DIR] [--server-root DIR]
 *                          [--node-flags=--no-opt] [--client-args="--open=sync --fsync=sync"]
 *
 * (`npm run bench:drain` builds first; `npx tsx bench/drain.ts` needs a build in dist/.)
 *
 * Each round seeds the mailbox, runs one client, checks that the mailbox is empty and every message
 * arrived, re-seeds and runs the other; the order alternates between rounds. Times are whole
 * process wall-clock (start-up and exit included); peak RSS comes from GNU time for both.
 *
 * Both clients write their files under `--out-root` (default: the OS temp dir, a disk), and
 * Dovecot lives under `--server-root` (default /dev/shm). Output files are kept until the end
 * rather than removed between runs: on ext4 without a journal (as here), creating a file scans past
 * every inode of its group freed in the last seconds to minutes (`recently_deleted()`), so
 * deleting thousands of files just before a run makes that run's file creation several times
 * slower. `--out-root /dev/shm` puts both clients' files on tmpfs, which leaves only the POP3, TLS
 * and process start-up work to compare.
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { childEnvironment, runMpop, sha256 } from './clients';
import { makeMessages } from './mail';
import {
  defaultServerRoot,
  filesIn,
  fsType,
  mb,
  median,
  requireTime,
  runMeasured,
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
    tls: { type: 'string', default: 'implicit' },
    /** Where both clients write their files (default: the OS temp dir, i.e. the disk). */
    'out-root': { type: 'string' },
    /** Where Dovecot and its mailbox live (default /dev/shm: see defaultServerRoot in run.ts). */
    'server-root': { type: 'string' },
    /** Extra arguments for drain-client (space-separated), e.g. "--open=sync --fsync=sync". */
    'client-args': { type: 'string', default: '' },
    /** Node options for drain-client (space-separated). */
    'node-flags': { type: 'string', default: '' },
  },
  strict: true,
});
const count = Number(args.messages);
const size = Number(args.size);
const rounds = Number(args.rounds);
const warmup = Number(args.warmup);
const tlsMode = args.tls;
const outRoot = args['out-root'] ?? tmpdir();
const serverRoot = args['server-root'] ?? defaultServerRoot();
const clientArgs = args['client-args'].split(' ').filter(Boolean);
const nodeFlags = args['node-flags'].split(' ').filter(Boolean);
if (tlsMode !== 'implicit' && tlsMode !== 'starttls') throw new Error('--tls must be implicit or starttls');

// The repository root, whether this runs from bench/ (tsx) or dist/bench/ (compiled).
const ROOT = resolve(__dirname, __dirname.endsWith(join('dist', 'bench')) ? '../..' : '..');
const CLIENT = join(ROOT, 'dist', 'bench', 'drain-client.js');

type Client = 'ours' | 'mpop';

/** Both clients run without NODE_EXTRA_CA_CERTS (see childEnvironment in clients.ts). */
const childEnv = childEnvironment();

async function main(): Promise<void> {
  requireTime();
  const server = await startDovecot(serverRoot);
  const work = mkdtempSync(join(outRoot, 'bench-drain-'));
  const user = server.users[0]!;
  const port = tlsMode === 'implicit' ? server.tlsPort : server.plainPort;
  let run = 0;

  const seed = (): Set<string> =>
    new Set(seedMailbox(server, makeMessages(count, size, run * count)).map(sha256));

  const runOurs = async (): Promise<RunResult> => {
    const expected = seed();
    const out = join(work, `ours-${++run}`);
    mkdirSync(out);
    const argv = [...nodeFlags, CLIENT, '--host', server.host, '--port', String(port), '--tls', tlsMode];
    argv.push('--ca', server.certs.caFile, '--user', user.name, '--out', out, ...clientArgs);
    const result = await runMeasured(process.execPath, argv, { ...childEnv, POP3_PASSWORD: user.password });
    const summary = JSON.parse(result.stdout) as { count: number; bytes: number };
    verify('ours', out, expected, summary.count, true);
    return result;
  };

  const runMpopHere = async (): Promise<RunResult> => {
    seed();
    const target = { server, port, starttls: tlsMode === 'starttls' };
    return runMpop(target, join(work, `mpop-${++run}`), count);
  };

  const verify = (who: Client, dir: string, expected: Set<string>, reported: number, exact: boolean) => {
    const left = server.mailboxCount();
    if (left !== 0) throw new Error(`${who}: ${left} messages left in the mailbox`);
    const files = filesIn(dir);
    if (files.count !== count || reported !== count) {
      throw new Error(`${who}: ${files.count} files written, ${reported} reported, ${count} expected`);
    }
    if (exact) {
      // Byte-exact: every seeded message arrived as a file, unchanged.
      for (const name of readdirSync(dir)) {
        if (!expected.has(sha256(readFileSync(join(dir, name))))) {
          throw new Error(`${who}: ${name} does not match any seeded message`);
        }
      }
    }
  };

  try {
    console.log(
      `drain: ${count} × ${size} B over ${tlsMode} TLS, ${rounds} rounds (+${warmup} warm-up), ` +
        `Dovecot on 127.0.0.1, node ${process.version}`,
    );
    console.log(
      `client files under ${outRoot} (${fsType(outRoot)}), Dovecot under ${serverRoot} (${fsType(serverRoot)}); ` +
        `drain-client ${[...nodeFlags, ...clientArgs].join(' ') || '(defaults)'}`,
    );
    const results = await runRounds<Client>({
      rounds,
      warmup,
      clients: ['ours', 'mpop'],
      once: (who) => (who === 'ours' ? runOurs() : runMpopHere()),
      ratio: ['ours', 'mpop'],
    });
    const ours = median(results.ours.map((x) => x.ms));
    const mpop = median(results.mpop.map((x) => x.ms));
    const rssOurs = Math.max(...results.ours.map((x) => x.maxRssKb));
    const rssMpop = Math.max(...results.mpop.map((x) => x.maxRssKb));
    console.log('');
    console.log('| client | median wall ms | min | max | peak RSS MB (max) |');
    console.log('|---|---|---|---|---|');
    for (const [who, med, rss] of [
      ['ours (node drain-client)', ours, rssOurs],
      ['mpop', mpop, rssMpop],
    ] as const) {
      const ms = results[who === 'mpop' ? 'mpop' : 'ours'].map((x) => x.ms);
      console.log(
        `| ${who} | ${med.toFixed(0)} | ${Math.min(...ms).toFixed(0)} | ${Math.max(...ms).toFixed(0)} | ${mb(rss)} |`,
      );
    }
    const ratio = ours / mpop;
    console.log('');
    console.log(`median ratio ours/mpop = ${ratio.toFixed(3)} (lower is better; target ≤ 1.0)`);
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
