import { parseArgs, type ParseArgsConfig } from 'node:util';
import { loadConfig, type CliConfig } from './config';
import { secretFileWarnings } from './secret-files';

/** The options `poll` and `check` share, parsed and checked the same way for both. */

export const COMMAND_OPTIONS = {
  config: { type: 'string', short: 'c' },
  json: { type: 'boolean', default: false },
  account: { type: 'string', multiple: true },
} as const;

export interface CommandArgs {
  readonly config: CliConfig;
  readonly json: boolean;
  /** `--account` ids; empty means every account. */
  readonly accounts: readonly string[];
}

/** A usage error: the message goes to stderr with the usage text, and the exit status is 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/**
 * Reads `--config` (validated), `--json` and `--account`, plus any `extra` options of the command.
 * Throws UsageError for a missing `--config` or an `--account` the config does not have.
 */
export function commandArgs(
  command: string,
  args: readonly string[],
  extra: NonNullable<ParseArgsConfig['options']> = {},
): CommandArgs & { values: Readonly<Record<string, string | boolean | string[] | undefined>> } {
  const values = parseArgs({ args: [...args], options: { ...COMMAND_OPTIONS, ...extra }, strict: true })
    .values as Record<string, string | boolean | string[] | undefined>;
  const file = values.config as string | undefined;
  if (!file) throw new UsageError(`${command} needs --config FILE`);
  const config = loadConfig(file);
  const accounts = (values.account as string[] | undefined) ?? [];
  const unknown = accounts.filter((id) => !config.accounts.some((a) => a.id === id));
  if (unknown.length > 0) throw new UsageError(`unknown account(s): ${unknown.join(', ')}`);
  for (const warning of secretFileWarnings(config, file))
    process.stderr.write(`pop3-poller: warning: ${warning}\n`);
  return { config, json: values.json === true, accounts, values };
}

/** The items whose `id` is in `ids`, or all of them when `ids` is empty. */
export function selectAccounts<T extends { readonly id: string }>(
  items: readonly T[],
  ids: readonly string[],
): T[] {
  return ids.length > 0 ? items.filter((a) => ids.includes(a.id)) : [...items];
}
