/**
 * `npm run bench:bundle`: builds the Lambda entry points with the construct's own esbuild options
 * (infra/bundling.ts) and prints each bundle's size and its module init time — the median of 7
 * fresh `node -e "require('<bundle>')"` processes minus the median of 7 `node -e 0`. The bundles
 * are written under the project (node_modules/.cache), so the `@aws-sdk/*` packages left out of
 * them resolve from the project's node_modules, as they do from the Lambda runtime's.
 *
 * The worker loads its AWS adapters on first use (functions/adapters/lazy-ports.ts), so its module
 * init leaves the SDK out. What a cold start pays for them is printed beside it: the init of the
 * bundle followed by the clients an empty delete-mode poll needs (Secrets Manager), and by every
 * client the worker can load — measured the same way, in fresh processes.
 *
 * Targets (issue): worker bundle ≤ 300 KB, module init ≤ 100 ms.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { build } from 'esbuild';
import { BUNDLE, ENTRY_POINTS, entryPath, PROJECT_ROOT } from '../infra/bundling';

const RUNS = 7;

/** What a cold worker loads later, on first use, by the kind of poll that needs it. */
const WORKER_FIRST_USE: ReadonlyArray<{ label: string; modules: readonly string[] }> = [
  { label: 'an empty poll (Secrets Manager)', modules: ['@aws-sdk/client-secrets-manager'] },
  {
    label: 'every client',
    modules: [
      '@aws-sdk/client-secrets-manager',
      '@aws-sdk/client-s3',
      '@aws-sdk/client-eventbridge',
      '@aws-sdk/client-sqs',
      '@aws-sdk/client-dynamodb',
    ],
  },
];

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

/** Wall time of a fresh `node -e <code>`, in milliseconds. */
function nodeMs(code: string): number {
  const start = process.hrtime.bigint();
  // stderr is kept for a failure's message only (the SDK warns on Node 20, which Lambda does not run).
  execFileSync(process.execPath, ['-e', code], { cwd: PROJECT_ROOT, stdio: ['ignore', 'inherit', 'pipe'] });
  return Number(process.hrtime.bigint() - start) / 1e6;
}

async function main(): Promise<void> {
  const cache = path.join(PROJECT_ROOT, 'node_modules', '.cache');
  mkdirSync(cache, { recursive: true });
  const outdir = mkdtempSync(path.join(cache, 'bench-bundle-'));
  try {
    const baseline = median(Array.from({ length: RUNS }, () => nodeMs('0')));
    for (const name of ENTRY_POINTS) {
      const outfile = path.join(outdir, `${name}.js`);
      await build({
        entryPoints: [entryPath(name)],
        outfile,
        bundle: true,
        minify: BUNDLE.minify,
        sourcemap: BUNDLE.sourceMap,
        sourcesContent: BUNDLE.sourcesContent,
        format: BUNDLE.format,
        platform: BUNDLE.platform,
        target: BUNDLE.target,
        external: [...BUNDLE.externalModules],
        mainFields: [...BUNDLE.mainFields],
        logLevel: 'warning',
      });
      const kb = statSync(outfile).size / 1024;
      const load = median(Array.from({ length: RUNS }, () => nodeMs(`require(${JSON.stringify(outfile)})`)));
      const init = Math.max(0, load - baseline);
      console.log(`${name}.js ${kb.toFixed(1)} KB, init ${Math.round(init)} ms (median of ${RUNS})`);
      if (name !== 'worker') continue;
      for (const { label, modules } of WORKER_FIRST_USE) {
        const code = [outfile, ...modules].map((m) => `require(${JSON.stringify(m)});`).join('');
        const cold = median(Array.from({ length: RUNS }, () => nodeMs(code))) - baseline;
        console.log(`  init + ${label} loaded on first use: ${Math.round(cold)} ms (median of ${RUNS})`);
      }
    }
  } finally {
    rmSync(outdir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
