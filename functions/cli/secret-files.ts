import { statSync } from 'node:fs';
import type { CliConfig } from './config';

/**
 * Files that hold secrets should be readable by their owner alone (as fetchmail insists for its rc
 * file): the config file when an account has its password inline, and every `secretFile` (a
 * password, or OAuth 2.0 client secrets and refresh tokens). One warning line per file that its
 * group or others may read; none on Windows, where the mode bits mean nothing.
 */
export function secretFileWarnings(config: CliConfig, configFile: string): string[] {
  if (process.platform === 'win32') return [];
  const files = new Set<string>();
  if (config.accounts.some((a) => a.password !== undefined)) files.add(configFile);
  for (const a of config.accounts) if (a.secretFile) files.add(a.secretFile);
  const warnings: string[] = [];
  for (const file of files) {
    let mode: number;
    try {
      mode = statSync(file).mode & 0o777;
    } catch {
      continue; // a missing secret file is reported when the account is polled
    }
    if ((mode & 0o044) === 0) continue;
    const who = mode & 0o004 ? 'anyone on this machine' : 'its group';
    warnings.push(
      `${file} holds secrets and ${who} can read it (mode ${mode.toString(8).padStart(4, '0')}); ` +
        `chmod 600 ${file}`,
    );
  }
  return warnings;
}
