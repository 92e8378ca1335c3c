import type { CheckResult } from '../poller/check';
import type { FailureReport } from '../poller/errors';
import type { AccountProgress, AccountResult } from '../poller/poll-account';

/** Human-readable summary lines for stderr, one per account, and the exit code for a run. */

export function formatResults(results: readonly AccountResult[]): string {
  const width = Math.max(7, ...results.map((r) => r.accountId.length));
  const lines = results.map((r) => {
    const parts = [
      r.accountId.padEnd(width),
      r.status.padEnd(7),
      `fetched ${r.fetched}`,
      `archived ${r.archived}`,
      `deleted ${r.deleted}`,
      formatBytes(r.bytes),
      `${(r.durationMs / 1000).toFixed(1)} s`,
    ];
    if (r.remaining > 0) parts.push(`remaining ${r.remaining}${r.stoppedBy ? ` (${r.stoppedBy})` : ''}`);
    // Gmail lists part of the mailbox per session: the next run continues.
    else if (r.moreMayRemain) parts.push(`more may remain${r.stoppedBy ? ` (${r.stoppedBy})` : ''}`);
    if (r.error) parts.push(`error ${r.error.code}: ${r.error.message}`);
    else if (r.messageErrors.length > 0)
      parts.push(`${r.failedMessages} message(s) failed: ${r.messageErrors[0]!.message}`);
    return parts.join('  ');
  });
  return `${lines.join('\n')}\n`;
}

/** One line per checked account: where it connected, how it logged in, what is waiting. */
export function formatChecks(results: readonly CheckResult[]): string {
  const width = Math.max(7, ...results.map((r) => r.accountId.length));
  const lines = results.map((r) => {
    const parts = [r.accountId.padEnd(width), r.status.padEnd(7)];
    if (r.server) {
      const { host, port, tls, tlsProtocol } = r.server;
      // The TLS version is known once a session was encrypted; a failed one still says the mode.
      const security =
        tls === 'none'
          ? 'no TLS'
          : tls === 'starttls'
            ? ['STLS', tlsProtocol].filter(Boolean).join(', ')
            : (tlsProtocol ?? 'implicit TLS');
      parts.push(`${host.includes(':') ? `[${host}]` : host}:${port} (${security})`);
    }
    if (r.loginMethod) parts.push(`login ${r.loginMethod}`);
    if (r.messages !== undefined) {
      const fresh = r.newMessages !== undefined ? ` (${r.newMessages} new)` : '';
      parts.push(
        `${r.messages} message${r.messages === 1 ? '' : 's'}, ${formatBytes(r.octets ?? 0)}${fresh}`,
      );
    }
    if (r.mode && !r.error) parts.push(`mode ${r.mode}`);
    if (r.loginDelaySeconds) parts.push(`login delay ${r.loginDelaySeconds} s`);
    if (r.error) parts.push(`error ${r.error.code}: ${r.error.message}`);
    parts.push(`${(r.durationMs / 1000).toFixed(1)} s`);
    return parts.join('  ');
  });
  return `${lines.join('\n')}\n`;
}

export function formatProgress(p: AccountProgress): string {
  return `${p.accountId}: ${p.archived}/${p.planned} archived, ${formatBytes(p.bytes)}`;
}

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

/**
 * 0 when every account succeeded; 75 (EX_TEMPFAIL) when the only failures are worth retrying
 * later (mailbox in use, network, server temporarily down); 1 when something needs attention.
 */
export function exitCode(
  results: ReadonlyArray<{
    readonly status: string;
    readonly error?: FailureReport;
    readonly messageErrors?: readonly FailureReport[];
  }>,
): number {
  const bad = results.filter((r) => r.status !== 'ok');
  if (bad.length === 0) return 0;
  const transient = bad.every((r) =>
    r.error ? r.error.retryable : (r.messageErrors ?? []).every((e) => e.retryable),
  );
  return transient ? 75 : 1;
}
