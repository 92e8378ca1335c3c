import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { OAuth2TokenProvider } from '../adapters/oauth2-token-provider';
import { HARD_STOP_GRACE_MS } from '../poller/hard-stop';
import { pollAccounts } from '../poller/poll-accounts';
import { commandArgs, selectAccounts, UsageError } from './command-args';
import type { CliConfig } from './config';
import { checkLocalPaths, reportLocalPathError } from './local-paths';
import { exitCode, formatProgress, formatResults } from './report';
import { stopOnSignals } from './stop-signals';
import { wire } from './wiring';

/** `poll`'s options beyond those it shares with `check` (COMMAND_OPTIONS). */
export const POLL_OPTIONS = { every: { type: 'string' } } as const;

/**
 * `pop3-poller poll`: one pass over the accounts, or with `--every SECONDS` a pass every so many
 * seconds until SIGINT or SIGTERM (for a machine without cron, or a container).
 *
 * Passes start on a fixed schedule (the next is due SECONDS after the previous one started; a pass
 * that overran is followed at once, never overlapped). Each pass wires its ports anew, so secrets
 * are read again and a rotated password is picked up; OAuth 2.0 tokens are kept across passes
 * until they near expiry. A signal during a pass stops it gracefully (stop-signals.ts); during the
 * wait it ends the loop at once. The exit status is the last pass's.
 *
 * Each pass first checks that the archive directory, events file and keep-mode state can be
 * written (local-paths.ts), before any login: a path that cannot be is one line on stderr and exit
 * 2 (with `--every`, the loop ends: the config must change), or 75 for a full disk (with
 * `--every`, the next pass tries again).
 */
export async function poll(args: readonly string[]): Promise<number> {
  const parsed = commandArgs('poll', args, POLL_OPTIONS);
  const every = parseEvery(parsed.values.every as string | undefined);
  const live = process.stderr.isTTY === true;
  const tokens = new OAuth2TokenProvider();
  /*
   * The first SIGINT or SIGTERM stops the run gracefully (PollOptions.stop): no new message is
   * started, those in flight are archived, announced and deleted, and each session ends with QUIT.
   * A second one exits at once, which loses nothing either: without QUIT the server deletes nothing,
   * and the next run fetches those messages again (same archive keys, same event ids).
   */
  const stop = stopOnSignals({
    live,
    finishing: 'finishing the messages in flight',
    onExit: () => 'unfinished messages stay on the server',
  });
  try {
    let code = 0;
    const warned = new Set<string>();
    for (let due = Date.now(); ;) {
      const started = new Date();
      code = await pass(parsed.config, parsed.accounts, stop.signal, tokens, live, (results) =>
        report(results, { started, every, json: parsed.json, warned }),
      );
      if (every === undefined || stop.signal.aborted || code === 2) return code;
      due = Math.max(due + every * 1000, Date.now());
      try {
        await sleep(due - Date.now(), undefined, { signal: stop.signal });
      } catch {
        return code; // stopped while waiting
      }
    }
  } finally {
    stop.dispose();
  }
}

async function pass(
  config: CliConfig,
  ids: readonly string[],
  stop: AbortSignal,
  tokens: OAuth2TokenProvider,
  live: boolean,
  report: (results: Awaited<ReturnType<typeof pollAccounts>>) => void,
): Promise<number> {
  try {
    await checkLocalPaths(config);
  } catch (error) {
    const code = reportLocalPathError(error);
    if (code === undefined) throw error;
    return code;
  }
  const { accounts, deps } = await wire(config, { tokens });
  const limits = config.limits ?? {};
  const results = await pollAccounts(selectAccounts(accounts, ids), deps, {
    runId: randomUUID(),
    stop,
    ...(limits.maxMessages ? { maxMessages: limits.maxMessages } : {}),
    ...(limits.maxBytes ? { maxBytes: limits.maxBytes } : {}),
    ...(limits.maxMessageBytes ? { maxMessageBytes: limits.maxMessageBytes } : {}),
    ...(limits.timeoutSeconds ? deadline(limits.timeoutSeconds) : {}),
    ...(config.concurrency?.accounts ? { accountConcurrency: config.concurrency.accounts } : {}),
    ...(config.concurrency?.store ? { storeConcurrency: config.concurrency.store } : {}),
    ...('eventBridge' in config.events && config.events.eventBridge.source
      ? { eventSource: config.events.eventBridge.source }
      : {}),
    ...(live ? { onProgress: (p) => process.stderr.write(`\r\x1b[K${formatProgress(p)}`) } : {}),
  });
  if (live) process.stderr.write('\r\x1b[K');
  report(results);
  return exitCode(results);
}

/**
 * `limits.timeoutSeconds`: no new message starts after it, and a session still running a grace
 * period later (a server streaming an endless reply) is dropped without QUIT (EDEADLINE, exit 75).
 * The grace is HARD_STOP_GRACE_MS (10 s, enough to finish what is in flight at a normal server),
 * or the timeout itself when that is shorter, so that a run ends within twice a short timeout.
 */
function deadline(timeoutSeconds: number): { deadline: Date; hardStopGraceMs: number } {
  const timeoutMs = timeoutSeconds * 1000;
  return {
    deadline: new Date(Date.now() + timeoutMs),
    hardStopGraceMs: Math.min(HARD_STOP_GRACE_MS, timeoutMs),
  };
}

/**
 * A pass's summary lines on stderr (after a timestamp when passes repeat) and, with `--json`, its
 * JSON on stdout: an indented document for one pass, one line per pass with `--every`.
 */
function report(
  results: Awaited<ReturnType<typeof pollAccounts>>,
  pass: { started: Date; every: number | undefined; json: boolean; warned: Set<string> },
): void {
  const { started, every } = pass;
  if (every !== undefined) process.stderr.write(`${started.toISOString()}\n`);
  process.stderr.write(formatResults(results));
  // RFC 2449 §6.5: a server may refuse logins closer together than its LOGIN-DELAY.
  for (const r of results) {
    if (every === undefined || !r.loginDelaySeconds || r.loginDelaySeconds <= every) continue;
    if (pass.warned.has(r.accountId)) continue;
    pass.warned.add(r.accountId);
    process.stderr.write(
      `pop3-poller: warning: ${r.accountId}: the server asks for ${r.loginDelaySeconds} s between ` +
        `logins (LOGIN-DELAY), more than --every ${every}; passes sooner may be refused\n`,
    );
  }
  if (!pass.json) return;
  if (every === undefined) process.stdout.write(`${JSON.stringify({ accounts: results }, null, 2)}\n`);
  else process.stdout.write(`${JSON.stringify({ time: started.toISOString(), accounts: results })}\n`);
}

/** `--every`: whole seconds, at least 1. */
function parseEvery(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!/^[1-9][0-9]{0,6}$/.test(value)) {
    throw new UsageError(`--every expects a whole number of seconds from 1 to 9999999, not "${value}"`);
  }
  return Number(value);
}
