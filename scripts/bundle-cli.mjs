// Builds the CLI, the package's `bin`, as three files beside OUTFILE:
//
//   node scripts/bundle-cli.mjs [OUTFILE]        (default dist/pop3-poller.js)
//
//   pop3-poller.js            the launcher (OUTFILE): a few lines that set a V8 flag and load
//                             the bundle
//   pop3-poller.bundle.js     the whole CLI in one minified file (+ .map)
//   pop3-poller.bundle.cache  V8's code cache for the bundle, made by running the demo once
//
// Why (performance; the CLI is a short-lived process and its start-up is part of every poll):
// - One file: Node resolving, reading and compiling ~40 separate modules cost ~17 ms more at each
//   start than one bundled file (hyperfine on `--help`: 81 ms → 63 ms).
// - Minified: less to read and scan (the bundle is about half the size).
// - Code cache: Node 20 has no compile cache of its own (module.enableCompileCache is Node 22), so
//   the launcher compiles the bundle with node:vm and hands V8 the bytecode it produced for the
//   same bundle at build time, after a demo run had compiled every function a poll uses. V8 checks
//   the cache against its version and flags and rejects it on any mismatch (another Node version
//   after an upgrade, say): the bundle is then compiled from source, as without a cache, and still
//   works. The cache is made here, with the same launcher code, right after the bundle it belongs
//   to; if making it fails, the CLI ships without one (a warning says so).
// - V8 flag --interrupt-budget=540672 (8× V8 11.3's default), set by the launcher through
//   v8.setFlagsFromString before the bundle compiles: it delays V8's optimising tier. A poll is a
//   short burst of a few hot functions; with the default budget ~70 of them go to TurboFan in a
//   1000-message drain (`--trace-opt`), ~100 ms of background compiling on a machine whose cores
//   the POP3 server needs too; with this one, ~11. Code still gets optimised when it runs long
//   (`poll --every`), only later. Measured with bench/cli-ab.ts (7 rounds, CPU per run against no
//   flag): this −160 ms, --no-opt −150 (but never optimises), --single-threaded-gc −50, --maglev
//   −10, --max-semi-space-size=16 +30, --max-lazy +30 (noise). In the launcher rather than a
//   `#!/usr/bin/env -S node --flag` line, which busybox's env does not take and which
//   `node dist/pop3-poller.js` (npm start) would skip. Node warns that flags changed after start
//   may do nothing or worse; this one is read whenever a function's budget is reset, and it works
//   (--trace-opt shows ~11 optimised functions instead of ~70). BUNDLE_V8_FLAGS="..." overrides
//   the list for experiments (an empty string: none).
// - The AWS SDK clients stay external: a local run never loads them (functions/cli/wiring.ts
//   requires them only when the config names an AWS service), and they resolve from node_modules
//   when it does.
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import process from 'node:process';
import { build } from 'esbuild';

const outfile = process.argv[2] ?? 'dist/pop3-poller.js';
const V8_FLAGS = (process.env.BUNDLE_V8_FLAGS ?? '--interrupt-budget=540672').split(' ').filter(Boolean);
const dir = dirname(outfile);
const stem = basename(outfile).replace(/\.js$/, '');
const bundleName = `${stem}.bundle.js`;
const cacheName = `${stem}.bundle.cache`;
const bundle = join(dir, bundleName);
const cache = join(dir, cacheName);

await build({
  entryPoints: ['functions/cli/main.ts'],
  outfile: bundle,
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  external: ['@aws-sdk/*'],
  minify: true,
  // Readable stack traces with `node --enable-source-maps`; the sources stay out of the map.
  sourcemap: true,
  sourcesContent: false,
  logLevel: 'warning',
});
// The launcher runs the bundle inside a function wrapper, where a `#!` line is a syntax error.
writeFileSync(bundle, readFileSync(bundle, 'utf8').replace(/^#![^\n]*\n/, '\n'));
chmodSync(bundle, 0o644); // not a program by itself
rmSync(`${outfile}.map`, { force: true }); // left by builds from before the launcher

/**
 * The launcher's body: compiles `<dir>/<bundle>` with the code cache, if there is one, and runs it
 * as the CommonJS module it was built as, with the launcher's own `module` and `require` (so
 * `require.main === module` holds when the launcher is the program, and `require` resolves from
 * the bundle's directory, which is the launcher's). The wrapper puts the bundle's first line on
 * line 1 (`lineOffset`), so stack traces and the source map line up.
 */
const loader = (dirExpression) => `const { readFileSync } = require('node:fs');
const { setFlagsFromString } = require('node:v8');
const { Script } = require('node:vm');
${V8_FLAGS.map((flag) => `setFlagsFromString('${flag}');`).join('\n')}
const file = ${dirExpression} + '/${bundleName}';
let cachedData;
try {
  cachedData = readFileSync(${dirExpression} + '/${cacheName}');
} catch {
  // no cache (a build that could not make one): compile from source
}
const script = new Script(
  '(function (exports, require, module, __filename, __dirname) {\\n' + readFileSync(file, 'utf8') + '\\n})',
  { filename: file, lineOffset: -1, cachedData },
);
script.runInThisContext()(exports, require, module, file, ${dirExpression});
`;

writeFileSync(
  outfile,
  `#!/usr/bin/env node
'use strict';
// The pop3-poller command. Built by scripts/bundle-cli.mjs, which says why it is made this way:
// it runs ${bundleName} (the whole CLI) with V8's code cache ${cacheName}.
${loader('__dirname')}`,
);
chmodSync(outfile, 0o755);

// The code cache: the demo run once through the same loader (same Node, same V8 flags), then the
// bytecode of every function compiled so far written out at exit.
const work = mkdtempSync(join(tmpdir(), 'pop3-poller-cache-'));
try {
  rmSync(cache, { force: true });
  const generator = join(work, 'make-cache.js');
  writeFileSync(
    generator,
    `'use strict';
${loader(JSON.stringify(resolve(dir)))}
process.on('exit', () => require('node:fs').writeFileSync(${JSON.stringify(resolve(cache))}, script.createCachedData()));
`,
  );
  const run = spawnSync(process.execPath, [generator, 'demo', '--output', join(work, 'demo')], {
    cwd: work,
    encoding: 'utf8',
    env: { ...process.env, NODE_OPTIONS: '' },
  });
  if (run.status !== 0) {
    rmSync(cache, { force: true });
    process.stderr.write(
      `bundle-cli: no code cache (the demo run exited ${run.status ?? run.signal}); the CLI works, ` +
        `but starts slower\n${run.stderr}`,
    );
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}
