import { checkAppendableFile, checkWritableDirectory } from '../adapters/writable-path';
import { LocalPathError } from '../adapters/errors';
import { isKeepOnlyLogin, providerPreset } from '../poller/providers';
import type { CliConfig } from './config';
import { stateDirOf } from './wiring';

/**
 * The local paths a `poll` will write, checked before any mailbox is opened (writable-path.ts): the
 * archive directory, the events file and, when an account keeps its mail on the server, the
 * keep-mode state directory. Throws a LocalPathError naming the first one that cannot be written.
 */
export async function checkLocalPaths(config: CliConfig): Promise<void> {
  if ('dir' in config.archive) await checkWritableDirectory('archive directory', config.archive.dir);
  if ('file' in config.events) await checkAppendableFile('events file', config.events.file);
  const keeps = config.accounts.some(
    (a) =>
      a.mode === 'keep' ||
      (a.mode === undefined &&
        a.username !== undefined &&
        isKeepOnlyLogin(providerPreset(a.provider, a.host), a.username)),
  );
  if (keeps) await checkWritableDirectory('keep-mode state directory', stateDirOf(config));
}

/**
 * The exit status for a local path that cannot be written: 75 (EX_TEMPFAIL) when a later run can
 * succeed on its own (a full disk or quota), else 2, as for any other configuration error (the
 * config names a path that cannot work: permission, read-only mount, a file in the way, /proc).
 */
export function localPathExitCode(error: LocalPathError): number {
  return error.retryable ? 75 : 2;
}

/** If `error` is a LocalPathError: its one line on stderr, and the exit status; else undefined. */
export function reportLocalPathError(error: unknown): number | undefined {
  if (!(error instanceof LocalPathError)) return undefined;
  process.stderr.write(`pop3-poller: ${error.message}\n`);
  return localPathExitCode(error);
}
