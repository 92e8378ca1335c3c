/**
 * Replay benchmark: `pop3-poller replay` over a directory archive of N messages, against the floor
 * of the same work done by a C tool (GNU sha256sum reading and hashing every archived file, which
 * replay must do too before it builds an event).
 *
 *   npm run bench:replay -- [--messages 1000] [--size 20480] [--rounds 5] [--out-root DIR]
 *
 * (`npm run bench:replay` builds first; `npx tsx bench/replay.ts` needs a build.)
 *
 * The archive is written once by the product's own DirectoryArchiveStore (so it has the archive
 * log a poll writes). Each round runs, in turn, the replay into a fresh events file (`--rate 0`:
 * no rate limit, as to a file by default), a `--dry-run`, and the floor; every replay is checked:
 * exactly one event per message, each with its message's key and SHA-256, each marked with
 * `detail.replay`. Prints medians of wall time, CPU time and peak RSS, events per second, and the
 * ratio to the floor.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { parseArgs } from 'node:util';
import { DirectoryArchiveStore } from '../functions/adapters/directory-archive-store';
import { archiveKey } from '../functions/poller/archive-key';
import { CLI, requireCli, sha256 } from './clients';
import { makeMessages } from './mail';
import { fmtMs, mb, median, requireTime, runMeasured, type RunResult } from './run';

const { values: args } = parseArgs({
  options: {
    messages: { type: 'string', default: '1000' },
    size: { type: 'string', default: '20480' },
    rounds: { type: 'string', default: '5' },
    'out-root': { type: 'string' },
  },
  strict: true,
});
const count = Number(args.messages);
const size = Number(args.size);
const rounds = Number(args.rounds);
const ACCOUNT = 'bench';

async function main(): Promise<void> {
  requireTime();
  requireCli();
  const work = mkdtempSync(join(args['out-root'] ?? tmpdir(), 'bench-replay-'));
  try {
    const archive = join(work, 'archive');
    const digests = await fillArchive(archive);
    console.log(
      `replay: ${count} × ${size} B from a directory archive, ${rounds} rounds, node ${process.version}`,
    );
    const results: Record<'replay' | 'dryRun' | 'floor', RunResult[]> = { replay: [], dryRun: [], floor: [] };
    const files = readdirSync(join(archive, ACCOUNT))
      .filter((name) => name.endsWith('.eml'))
      .map((name) => join(archive, ACCOUNT, name));
    for (let round = 1; round <= rounds; round++) {
      const events = join(work, `events-${round}.jsonl`);
      const state = join(work, `state-${round}.json`);
      const common = ['--archive', archive, '--account', ACCOUNT, '--state'];
      const replayed = await runMeasured(process.execPath, [
        CLI,
        'replay',
        ...common,
        state,
        '--events-file',
        events,
        '--rate',
        '0',
      ]);
      verify(events, digests);
      const dry = await runMeasured(process.execPath, [
        CLI,
        'replay',
        ...common,
        `${state}.dry`,
        '--dry-run',
      ]);
      if (!dry.stdout.startsWith(`${count} events of ${count} messages`)) {
        throw new Error(`dry run said: ${dry.stdout.trim()}`);
      }
      const floor = await runMeasured('sha256sum', files);
      results.replay.push(replayed);
      results.dryRun.push(dry);
      results.floor.push(floor);
      console.log(
        `round ${round}  replay ${fmtMs(replayed.ms)}  dry run ${fmtMs(dry.ms)}  sha256sum ${fmtMs(floor.ms)}  ` +
          `replay/floor ${(replayed.ms / floor.ms).toFixed(2)}`,
      );
      rmSync(events, { force: true });
    }
    const floorMs = median(results.floor.map((r) => r.ms));
    console.log('\n| run | median wall ms | events/s | median CPU ms | peak RSS | × sha256sum |');
    console.log('|---|---|---|---|---|---|');
    for (const [name, runs] of Object.entries(results)) {
      const wall = median(runs.map((r) => r.ms));
      const cpu = median(runs.map((r) => r.cpuMs.user + r.cpuMs.system));
      const rss = median(runs.map((r) => r.maxRssKb));
      const rate = name === 'floor' ? '–' : Math.round((count / wall) * 1000).toString();
      console.log(
        `| ${name} | ${Math.round(wall)} | ${rate} | ${Math.round(cpu)} | ${mb(rss)} | ${(wall / floorMs).toFixed(2)} |`,
      );
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** Archives the messages as a poll would (same store, same log); returns their digests. */
async function fillArchive(dir: string): Promise<Set<string>> {
  const store = new DirectoryArchiveStore({ dir });
  const digests = new Set<string>();
  const archivedAt = new Date('2026-12-07T10:00:00.000Z');
  const messages = makeMessages(count, size);
  for (let i = 0; i < messages.length; i += 50) {
    await Promise.all(
      messages.slice(i, i + 50).map((bytes, j) => {
        const digest = sha256(bytes);
        digests.add(digest);
        return store.put({
          key: archiveKey(ACCOUNT, digest),
          accountId: ACCOUNT,
          uidl: `UID-${i + j}`,
          sha256: digest,
          size: bytes.length,
          archivedAt,
          source: 'pop3-poller',
          body: () => Readable.from([bytes]),
        });
      }),
    );
  }
  return digests;
}

function verify(eventsFile: string, digests: ReadonlySet<string>): void {
  const seen = new Set<string>();
  for (const line of readFileSync(eventsFile, 'utf8').split('\n')) {
    if (!line) continue;
    const event = JSON.parse(line) as { detail: { sha256: string; key: string; replay?: unknown } };
    const { sha256: digest, key, replay } = event.detail;
    if (!digests.has(digest) || key !== archiveKey(ACCOUNT, digest) || replay === undefined) {
      throw new Error(`replay: unexpected event ${line.slice(0, 200)}`);
    }
    seen.add(digest);
  }
  if (seen.size !== digests.size) throw new Error(`replay: ${seen.size} events, ${digests.size} expected`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
