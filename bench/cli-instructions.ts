/**
 * Instructions per CLI drain, counted by valgrind (callgrind): a figure that does not move with the
 * load on a shared machine, unlike wall and CPU time. Same drain as bench/cli-drain.ts (N × 20 KB
 * over implicit TLS from Dovecot, verified the same way), each bin run once under
 * `valgrind --tool=callgrind`, all threads counted (V8's compiler and GC threads included).
 *
 *   npx tsx bench/cli-instructions.ts [--messages 300] [--size 20480] [--keep DIR] BIN [BIN...]
 *
 *   git stash && npm run build && cp -r dist /tmp/before && git stash pop && npm run build
 *   npx tsx bench/cli-instructions.ts /tmp/before/pop3-poller.js dist/pop3-poller.js
 *
 * (apt-get install -y valgrind.) A run takes ~50× its usual time (~1 min for 300 messages). Between
 * runs of the same bin the count moves by ~1% (thread interleaving changes what V8 compiles).
 * `--keep DIR` keeps each run's callgrind.out there, for `callgrind_annotate`.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { ROOT, runCli, sha256, type Target } from './clients';
import { makeMessages } from './mail';
import { defaultServerRoot, seedMailbox, startDovecot } from './run';

const { values: args, positionals: bins } = parseArgs({
  options: {
    messages: { type: 'string', default: '300' },
    size: { type: 'string', default: '20480' },
    keep: { type: 'string' },
  },
  allowPositionals: true,
  strict: true,
});

async function main(): Promise<void> {
  if (spawnSync('valgrind', ['--version']).status !== 0) throw new Error('valgrind is missing');
  if (bins.length === 0) bins.push('dist/pop3-poller.js');
  const count = Number(args.messages);
  const size = Number(args.size);
  const server = await startDovecot(defaultServerRoot());
  const work = mkdtempSync(join(tmpdir(), 'bench-instructions-'));
  const target: Target = { server, port: server.tlsPort };
  try {
    console.log(`cli instructions: ${count} × ${size} B over implicit TLS, node ${process.version}`);
    console.log('| bin | instructions (Ir) | per message, start-up included |');
    console.log('|---|---|---|');
    for (const [i, bin] of bins.entries()) {
      const out = resolve(
        args.keep ?? work,
        `callgrind.${i + 1}.${basename(dirname(resolve(ROOT, bin)))}.out`,
      );
      // runCli executes its bin directly: a wrapper that runs the real one under callgrind.
      const wrapper = join(work, `wrapper-${i + 1}.sh`);
      writeFileSync(
        wrapper,
        `#!/bin/sh\nexec valgrind --tool=callgrind --callgrind-out-file='${out}' '${process.execPath}' '${resolve(ROOT, bin)}' "$@"\n`,
      );
      chmodSync(wrapper, 0o755);
      const expected = new Set(seedMailbox(server, makeMessages(count, size, i * count)).map(sha256));
      const result = await runCli(target, join(work, `run-${i + 1}`), expected, { bin: wrapper });
      const ir = /Collected : (\d+)/.exec(result.stderr)?.[1];
      if (!ir) throw new Error(`no instruction count from valgrind: ${result.stderr.slice(-500)}`);
      console.log(
        `| ${bin} | ${Number(ir).toLocaleString('en')} | ${(Number(ir) / count / 1000).toFixed(0)} k |`,
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
