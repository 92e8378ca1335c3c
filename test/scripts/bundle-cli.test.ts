import { execFile } from 'node:child_process';
import { accessSync, constants, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';

/**
 * The package's `bin` is one bundled file (scripts/bundle-cli.mjs). Built here into a temp dir and
 * run the way a user runs it, as an executable: it must work on its own (the lazily loaded demo and
 * postal-mime included) and must leave the AWS SDK out, to be loaded only when a config asks for it.
 */

const ROOT = resolve(__dirname, '../..');
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
    const source = readFileSync(bin, 'utf8');
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

  it('prints usage and exits 2 on an unknown command', async () => {
    await expect(run(bin, ['frobnicate'])).rejects.toMatchObject({
      code: 2,
      stderr: expect.stringContaining('pop3-poller poll --config FILE'),
    });
  });
});
