/**
 * A/B benchmark of CLI builds or Node flags: the same drain as bench/cli-drain.ts (1000 × 20 KB
 * over implicit TLS from Dovecot), run by each variant in turn, the order rotating between rounds.
 *
 *   npx tsx bench/cli-ab.ts --variant NAME=BIN[ NODE-FLAGS...] --variant ... [--rounds 9]
 *                           [--messages 1000] [--size 20480] [--warmup 1] [--out-root DIR]
 *
 *   npx tsx bench/cli-ab.ts --variant shipped=dist/pop3-poller.js \
 *     --variant nobudget="dist/pop3-poller.js --interrupt-budget=1000000"
 *
 * A variant without flags executes BIN directly (its shebang or launcher applies); with flags it
 * runs `node FLAGS BIN`. Every run is verified as in cli-drain (mailbox empty, archive byte-exact,
 * one event per message).
 *
 * Why this and not cli-drain: on a machine shared with other work, wall time varies by 2× between
 * runs, while a variant's CPU time (user + sys of the process and all its threads, from GNU time)
 * moves much less; and a change worth keeping should show up in CPU time. Each variant's median
 * and spread are printed, and the per-round difference to the first variant (paired, so a slow
 * minute on the machine hits both).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { requireCli, ROOT, runCli, sha256, type Target } from './clients';
import { makeMessages } from './mail';
import {
  defaultServerRoot,
  median,
  requireTime,
  runRounds,
  seedMailbox,
  startDovecot,
  type RunResult,
} from './run';

const { values: args } = parseArgs({
  options: {
    variant: { type: 'string', multiple: true, default: [] },
    messages: { type: 'string', default: '1000' },
    size: { type: 'string', default: '20480' },
    rounds: { type: 'string', default: '9' },
    warmup: { type: 'string', default: '1' },
    'out-root': { type: 'string' },
  },
  strict: true,
});

interface Variant {
  readonly bin: string;
  readonly nodeFlags: readonly string[];
}

const variants = new Map<string, Variant>();
for (const spec of args.variant) {
  const eq = spec.indexOf('=');
  if (eq <= 0) throw new Error(`--variant ${spec}: expected NAME=BIN[ FLAGS...]`);
  const [bin, ...nodeFlags] = spec
    .slice(eq + 1)
    .split(' ')
    .filter(Boolean);
  if (!bin) throw new Error(`--variant ${spec}: no BIN`);
  variants.set(spec.slice(0, eq), { bin: resolve(ROOT, bin), nodeFlags });
}
if (variants.size === 0)
  variants.set('shipped', { bin: resolve(ROOT, 'dist/pop3-poller.js'), nodeFlags: [] });

const count = Number(args.messages);
const size = Number(args.size);
const outRoot = args['out-root'] ?? tmpdir();

async function main(): Promise<void> {
  requireTime();
  requireCli();
  const server = await startDovecot(defaultServerRoot());
  const work = mkdtempSync(join(outRoot, 'bench-ab-'));
  const target: Target = { server, port: server.tlsPort };
  const names = [...variants.keys()];
  let run = 0;
  const once = async (name: string): Promise<RunResult> => {
    const expected = new Set(seedMailbox(server, makeMessages(count, size, run * count)).map(sha256));
    const dir = join(work, `${++run}`);
    return runCli(target, dir, expected, variants.get(name));
  };
  try {
    console.log(
      `cli a/b: ${count} × ${size} B, ${args.rounds} rounds (+${args.warmup} warm-up), node ${process.version}`,
    );
    for (const [name, v] of variants) console.log(`  ${name}: ${[...v.nodeFlags, v.bin].join(' ')}`);
    const results = await runRounds<string>({
      rounds: Number(args.rounds),
      warmup: Number(args.warmup),
      clients: names,
      once,
      ratio: [names[names.length - 1]!, names[0]!],
      cpu: true,
    });
    const cpu = (r: RunResult) => r.cpuMs.user + r.cpuMs.system;
    console.log('');
    console.log(
      `| variant | median wall ms | median CPU ms (user + sys) | CPU min–max | median CPU Δ to ${names[0]} (paired) |`,
    );
    console.log('|---|---|---|---|---|');
    for (const name of names) {
      const rs = results[name]!;
      const cpus = rs.map(cpu);
      const delta = rs.map((r, i) => cpu(r) - cpu(results[names[0]!]![i]!));
      console.log(
        `| ${name} | ${median(rs.map((r) => r.ms)).toFixed(0)} | ${median(cpus).toFixed(0)} ` +
          `(${median(rs.map((r) => r.cpuMs.user)).toFixed(0)} + ${median(rs.map((r) => r.cpuMs.system)).toFixed(0)}) | ` +
          `${Math.min(...cpus).toFixed(0)}–${Math.max(...cpus).toFixed(0)} | ${median(delta).toFixed(0)} |`,
      );
    }
  } finally {
    await server.stop();
    rmSync(work, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
