import { execFile } from 'node:child_process';
import { accessSync, constants, copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'; // prettier-ignore
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { Script } from 'node:vm';

/**
 * The package's `bin` is a small launcher that runs one bundled, minified file with V8's code cache
 * (scripts/bundle-cli.mjs). Built here into a temp dir and run the way a user runs it, as an
 * executable: it must work on its own (the lazily loaded demo and postal-mime included), must leave
 * the AWS SDK out, to be loaded only when a config asks for it, must come with a code cache that
 * this Node accepts, and must still work when the cache is missing or rejected.
 */

const ROOT = resolve(__dirname, '../..');

/** The V8 flags the launcher sets before it compiles the bundle. */
function launcherFlags(launcher: string): string[] {
  return [...launcher.matchAll(/setFlagsFromString\('([^']+)'\)/g)].map((m) => m[1]!);
}
const run = promisify(execFile);

describe('bundled CLI (dist/pop3-poller.js)', () => {
  let dir: string;
  let bin: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'pop3-poller-bundle-'));
    bin = join(dir, 'pop3-poller.js');
    await run(process.execPath, ['scripts/bundle-cli.mjs', bin], { cwd: ROOT });
  });

  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('is an executable script with a node shebang', () => {
    expect(readFileSync(bin, 'utf8').split('\n')[0]).toBe('#!/usr/bin/env node');
    expect(() => accessSync(bin, constants.X_OK)).not.toThrow();
  });

  it('keeps the AWS SDK external (required by name, not inlined)', () => {
    const source = readFileSync(join(dir, 'pop3-poller.bundle.js'), 'utf8');
    for (const sdk of ['client-s3', 'client-eventbridge', 'client-secrets-manager']) {
      expect(source).toContain(`require("@aws-sdk/${sdk}")`);
    }
    expect(source).not.toContain('class S3Client');
  });

  it('runs the demo end to end when executed directly', async () => {
    const out = join(dir, 'demo-output');
    const { stdout } = await run(bin, ['demo', '--output', out], { cwd: dir });
    expect(stdout).toMatch(/demo\s+ok\s+fetched 4\s+archived 4\s+deleted 4/);
    expect(stdout).toContain('会議のお知らせ'); // ISO-2022-JP subject, decoded by the bundled postal-mime
    const archived = readdirSync(join(out, 'archive', 'demo')).filter((n) => n.endsWith('.eml'));
    expect(archived).toHaveLength(4);
    const lines = readFileSync(join(out, 'events.jsonl'), 'utf8').trim().split('\n');
    expect(lines.filter((l) => l.includes('"detailType":"Message Archived"'))).toHaveLength(4);
  });

  it('is a launcher of a minified bundle with no #! line of its own', () => {
    const launcher = readFileSync(bin, 'utf8');
    expect(launcher).toContain("'/pop3-poller.bundle.js'");
    expect(launcher.length).toBeLessThan(2000);
    const bundle = readFileSync(join(dir, 'pop3-poller.bundle.js'), 'utf8');
    expect(bundle.startsWith('#!')).toBe(false); // a syntax error inside the launcher's wrapper
    // Minified: a few hundred long lines, not ~10,000 indented ones.
    expect(bundle.split('\n').length).toBeLessThan(1000);
    expect(bundle).not.toMatch(/\n {4}\S/);
  });

  it('delays V8 optimisation through the launcher (tiering flag set before the bundle compiles)', () => {
    const launcher = readFileSync(bin, 'utf8');
    expect(launcherFlags(launcher)).toEqual([expect.stringMatching(/^--interrupt-budget=\d+$/)]);
    expect(launcher.indexOf('setFlagsFromString(')).toBeLessThan(launcher.indexOf('new Script('));
  });

  it('ships a code cache that this Node accepts for the bundle, with the launcher flags set', async () => {
    // In a child, as the launcher runs: its flags first (V8 refuses a cache made under other flags).
    const flags = launcherFlags(readFileSync(bin, 'utf8'));
    const check = [
      "const { readFileSync } = require('node:fs');",
      'const [file, cache, ...flags] = process.argv.slice(1);',
      "for (const flag of flags) require('node:v8').setFlagsFromString(flag);",
      "const wrapped = '(function (exports, require, module, __filename, __dirname) {\\n' + readFileSync(file, 'utf8') + '\\n})';",
      "const script = new (require('node:vm').Script)(wrapped, { filename: file, lineOffset: -1, cachedData: readFileSync(cache) });",
      'process.stdout.write(String(script.cachedDataRejected));',
    ].join('\n');
    const cache = join(dir, 'pop3-poller.bundle.cache');
    const bundle = join(dir, 'pop3-poller.bundle.js');
    const { stdout } = await run(process.execPath, ['-e', check, bundle, cache, ...flags]);
    expect(stdout).toBe('false');
    // It holds more than the top level: the functions the demo run compiled (a poll's path).
    expect(readFileSync(cache).length).toBeGreaterThan(100_000);
  });

  it('still runs without its code cache, and with a cache V8 refuses', async () => {
    for (const cache of ['missing', 'foreign']) {
      const copy = join(dir, `copy-${cache}`);
      mkdirSync(copy);
      for (const name of ['pop3-poller.js', 'pop3-poller.bundle.js'])
        copyFileSync(join(dir, name), join(copy, name));
      if (cache === 'foreign') {
        // A cache made for another source: V8 checks and refuses it, and the bundle compiles.
        writeFileSync(join(copy, 'pop3-poller.bundle.cache'), new Script('1 + 1').createCachedData());
      }
      const { stdout } = await run(process.execPath, [join(copy, 'pop3-poller.js'), '--help']);
      expect(stdout).toContain('pop3-poller poll --config FILE');
    }
  });

  it('prints usage and exits 2 on an unknown command', async () => {
    await expect(run(bin, ['frobnicate'])).rejects.toMatchObject({
      code: 2,
      stderr: expect.stringContaining('pop3-poller poll --config FILE'),
    });
  });
});
