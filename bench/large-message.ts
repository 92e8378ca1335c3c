/**
 * Large-message memory benchmark (issue 2): how much does retrieving one 25 MB message raise the
 * drain client's peak RSS? The issue requires less than 40 MB.
 *
 *   npm run bench:large -- [--size-mb 25] [--rounds 3] [--tls implicit|starttls]
 *
 * (`npm run bench:large` builds first; `npx tsx bench/large-message.ts` needs a build in dist/.)
 *
 * Each round runs the same drain-client process (same TLS, same file writing, same fsync) three
 * ways: against an empty mailbox, against one 1 KB message (the baseline: every code path of a
 * retrieval, nothing large), and against one message of `--size-mb`. Peak RSS comes from GNU
 * time (the kernel's high-water mark for the process). The increase is large minus baseline; the
 * file written must be byte-identical to the message seeded.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { makeMessage } from './mail';
import { mb, median, requireTime, runMeasured, type RunResult, defaultServerRoot, startDovecot } from './run';

const { values: args } = parseArgs({
  options: {
    'size-mb': { type: 'string', default: '25' },
    rounds: { type: 'string', default: '3' },
    tls: { type: 'string', default: 'implicit' },
    'out-root': { type: 'string' },
    /** Where Dovecot and its mailbox live (default /dev/shm: see defaultServerRoot in run.ts). */
    'server-root': { type: 'string' },
    /** Node options for drain-client (space-separated). */
    'node-flags': { type: 'string', default: '' },
  },
  strict: true,
});
const largeSize = Math.round(Number(args['size-mb']) * 1024 * 1024);
const rounds = Number(args.rounds);
const tlsMode = args.tls;
if (tlsMode !== 'implicit' && tlsMode !== 'starttls') throw new Error('--tls must be implicit or starttls');
const outRoot = args['out-root'] ?? tmpdir();
const serverRoot = args['server-root'] ?? defaultServerRoot();
const nodeFlags = args['node-flags'].split(' ').filter(Boolean);
const LIMIT_MB = 40;

const ROOT = resolve(__dirname, __dirname.endsWith(join('dist', 'bench')) ? '../..' : '..');
const CLIENT = join(ROOT, 'dist', 'bench', 'drain-client.js');

/** As in drain.ts: the sandbox's NODE_EXTRA_CA_CERTS would add a bundle parse to every start. */
const childEnv: NodeJS.ProcessEnv = { ...process.env };
delete childEnv.NODE_EXTRA_CA_CERTS;

async function main(): Promise<void> {
  requireTime();
  const server = await startDovecot(serverRoot);
  const work = mkdtempSync(join(outRoot, 'bench-large-'));
  const user = server.users[0]!;
  const port = tlsMode === 'implicit' ? server.tlsPort : server.plainPort;
  let run = 0;

  const drain = async (size: number | undefined): Promise<RunResult> => {
    const message = size === undefined ? undefined : makeMessage(run, size);
    if (message) server.deliver([message]);
    const out = join(work, `run-${++run}`);
    mkdirSync(out);
    const argv = [...nodeFlags, CLIENT, '--host', server.host, '--port', String(port), '--tls', tlsMode];
    argv.push('--ca', server.certs.caFile, '--user', user.name, '--out', out);
    const result = await runMeasured(process.execPath, argv, { ...childEnv, POP3_PASSWORD: user.password });
    const files = readdirSync(out);
    if (server.mailboxCount() !== 0) throw new Error('mailbox not empty after the drain');
    if (files.length !== (message ? 1 : 0)) throw new Error(`${files.length} files written`);
    if (message && sha256(readFileSync(join(out, files[0]!))) !== sha256(message)) {
      throw new Error('the file written differs from the message seeded');
    }
    rmSync(out, { recursive: true, force: true });
    return result;
  };

  try {
    console.log(
      `large message: ${mb(largeSize / 1024)} MB vs 1 KB baseline over ${tlsMode} TLS, ${rounds} rounds, ` +
        `node ${process.version}`,
    );
    const empty: number[] = [];
    const base: number[] = [];
    const large: number[] = [];
    const increases: number[] = [];
    for (let r = 0; r < rounds; r++) {
      const e = await drain(undefined);
      const b = await drain(1024);
      const l = await drain(largeSize);
      empty.push(e.maxRssKb);
      base.push(b.maxRssKb);
      large.push(l.maxRssKb);
      increases.push(l.maxRssKb - b.maxRssKb);
      console.log(
        `round ${r + 1}: empty ${mb(e.maxRssKb)} MB, 1 KB ${mb(b.maxRssKb)} MB, ` +
          `${mb(largeSize / 1024)} MB message ${mb(l.maxRssKb)} MB (${l.ms.toFixed(0)} ms) ` +
          `→ +${mb(l.maxRssKb - b.maxRssKb)} MB`,
      );
    }
    const worst = Math.max(...increases);
    console.log('');
    console.log('| mailbox | peak RSS MB (median) |');
    console.log('|---|---|');
    console.log(`| empty | ${mb(median(empty))} |`);
    console.log(`| one 1 KB message (baseline) | ${mb(median(base))} |`);
    console.log(`| one ${mb(largeSize / 1024)} MB message | ${mb(median(large))} |`);
    console.log('');
    console.log(
      `peak RSS increase: median +${mb(median(increases))} MB, worst +${mb(worst)} MB ` +
        `(target < ${LIMIT_MB} MB)`,
    );
    console.log(worst < LIMIT_MB * 1024 ? 'PASS' : 'FAIL');
  } finally {
    await server.stop();
    rmSync(work, { recursive: true, force: true });
  }
}

function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
