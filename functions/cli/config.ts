import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import * as v from 'valibot';
import { ACCOUNT_ID_PATTERN } from '../poller/account';
import { isKeepOnlyLogin, PROVIDER_NAMES, providerPreset } from '../poller/providers';

/**
 * The command-line tool's configuration file: JSON, validated once on load. Errors point at the
 * bad key (`accounts[1].port: expected an integer from 1 to 65535`) and never echo a value, since
 * values include passwords. Relative paths are resolved against the config file's directory.
 */

const port = v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(65535));
const positiveInt = v.pipe(v.number(), v.integer(), v.minValue(1));
const nonEmpty = v.pipe(v.string(), v.minLength(1));

const AccountSchema = v.pipe(
  v.strictObject({
    id: v.pipe(v.string(), v.regex(ACCOUNT_ID_PATTERN)),
    provider: v.optional(v.picklist(PROVIDER_NAMES)),
    host: v.optional(nonEmpty),
    port: v.optional(port),
    tls: v.optional(v.picklist(['implicit', 'starttls', 'none'])),
    username: v.optional(nonEmpty),
    password: v.optional(nonEmpty),
    passwordEnv: v.optional(v.pipe(v.string(), v.regex(/^[A-Za-z_][A-Za-z0-9_]*$/))),
    secretId: v.optional(nonEmpty),
    secretFile: v.optional(nonEmpty),
    mode: v.optional(v.picklist(['delete', 'keep'])),
    deleteAfterDays: v.optional(v.pipe(v.number(), v.minValue(0))),
    caFile: v.optional(nonEmpty),
    certificateSha256: v.optional(v.pipe(v.string(), v.regex(/^([0-9A-Fa-f]{2}:?){31}[0-9A-Fa-f]{2}$/))),
    allowPlaintextAuth: v.optional(v.boolean()),
    authMethod: v.optional(
      v.picklist(['auto', 'USER', 'APOP', 'PLAIN', 'LOGIN', 'CRAM-MD5', 'XOAUTH2', 'OAUTHBEARER']),
    ),
    maxMessages: v.optional(positiveInt),
    maxBytes: v.optional(positiveInt),
  }),
  v.check(
    (a) => [a.password, a.passwordEnv, a.secretId, a.secretFile].filter((x) => x !== undefined).length === 1,
    'give exactly one of "password", "passwordEnv", "secretId" or "secretFile"',
  ),
  v.check(
    (a) =>
      a.secretId !== undefined ||
      a.secretFile !== undefined ||
      ((a.host !== undefined || a.provider !== undefined) && a.username !== undefined),
    'needs "host" (or "provider") and "username" (or a "secretId" or "secretFile" whose secret holds them)',
  ),
  v.check(
    (a) =>
      !(a.username && isKeepOnlyLogin(providerPreset(a.provider, a.host), a.username) && a.mode === 'delete'),
    'Gmail "recent:" logins are never deleted from: set "mode" to "keep" or leave it unset',
  ),
  v.check(
    (a) => a.deleteAfterDays === undefined || a.mode === 'keep',
    '"deleteAfterDays" applies only to "mode": "keep"',
  ),
);

const ArchiveSchema = v.union([
  v.strictObject({ dir: nonEmpty }),
  v.strictObject({
    s3: v.strictObject({
      bucket: nonEmpty,
      prefix: v.optional(v.string()),
      region: v.optional(nonEmpty),
      endpoint: v.optional(v.pipe(v.string(), v.url())),
      forcePathStyle: v.optional(v.boolean()),
      kmsKeyId: v.optional(nonEmpty),
    }),
  }),
]);

const EventsSchema = v.union([
  v.strictObject({ file: nonEmpty }),
  v.strictObject({ stdout: v.literal(true) }),
  v.strictObject({
    eventBridge: v.strictObject({
      busName: nonEmpty,
      region: v.optional(nonEmpty),
      source: v.optional(nonEmpty),
    }),
  }),
]);

const ConfigSchema = v.pipe(
  v.strictObject({
    accounts: v.pipe(v.array(AccountSchema), v.minLength(1)),
    archive: ArchiveSchema,
    events: EventsSchema,
    /** Where keep-mode state (archived UIDLs) is kept; default `<archive dir>/.state` or `./.pop3-poller-state`. */
    stateDir: v.optional(nonEmpty),
    limits: v.optional(
      v.strictObject({
        maxMessages: v.optional(positiveInt),
        maxBytes: v.optional(positiveInt),
        timeoutSeconds: v.optional(positiveInt),
        maxMessageBytes: v.optional(positiveInt),
      }),
    ),
    concurrency: v.optional(
      v.strictObject({ accounts: v.optional(positiveInt), store: v.optional(positiveInt) }),
    ),
  }),
  v.check(
    (c) => new Set(c.accounts.map((a) => a.id)).size === c.accounts.length,
    'account ids must be unique',
  ),
);

export type CliConfig = v.InferOutput<typeof ConfigSchema>;
export type CliAccount = v.InferOutput<typeof AccountSchema>;

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  readonly code = 'ECONFIG';
  readonly retryable = false;
}

/** Reads, parses and validates a config file; relative paths come back absolute. */
export function loadConfig(file: string): CliConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new ConfigError(
      `cannot read config file ${file}: ${(error as NodeJS.ErrnoException).code ?? error}`,
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    // JSON.parse messages quote a snippet of the input, which may hold a password: keep the position only.
    const position = /position (\d+)/.exec(String(error))?.[1];
    throw new ConfigError(
      `config file ${file} is not valid JSON${position ? ` (near character ${position})` : ''}`,
    );
  }
  return resolvePaths(parseConfig(json, file), dirname(resolve(file)));
}

export function parseConfig(json: unknown, source = 'config'): CliConfig {
  const result = v.safeParse(ConfigSchema, json);
  if (result.success) return result.output;
  const problems = result.issues.slice(0, 10).map(describeIssue);
  throw new ConfigError(`${source} is invalid:\n  - ${problems.join('\n  - ')}`);
}

const UNION_FORMS: Record<string, string> = {
  archive: 'expected {"dir": …} or {"s3": {"bucket": …, "prefix"?, "region"?, "endpoint"?}}',
  events: 'expected {"file": …}, {"stdout": true} or {"eventBridge": {"busName": …}}',
};

/** One issue as `path: what was expected`, never showing the value that was received. */
function describeIssue(issue: v.BaseIssue<unknown>): string {
  const path = formatPath(issue.path);
  let what: string;
  if (issue.type === 'strict_object' && issue.expected === 'never') what = 'unknown key';
  else if (issue.kind === 'validation' && issue.type === 'check') what = issue.message;
  else if (issue.type === 'union') what = UNION_FORMS[path] ?? 'expected one of the documented forms';
  else if (issue.type === 'regex') what = 'has an invalid format';
  else if (issue.type === 'min_value' || issue.type === 'max_value' || issue.type === 'integer')
    what = rangeText(path);
  else if (issue.type === 'min_length') what = 'must not be empty';
  else what = `expected ${issue.expected ?? issue.type}`;
  return path ? `${path}: ${what}` : what;
}

function formatPath(path: v.BaseIssue<unknown>['path']): string {
  let out = '';
  for (const item of path ?? []) {
    const key = (item as { key: unknown }).key;
    out += typeof key === 'number' ? `[${key}]` : out ? `.${String(key)}` : String(key);
  }
  return out;
}

function rangeText(path: string): string {
  if (path.endsWith('port')) return 'expected an integer from 1 to 65535';
  if (path.endsWith('deleteAfterDays')) return 'expected a number of days, 0 or more';
  return 'expected a positive integer';
}

function resolvePaths(config: CliConfig, base: string): CliConfig {
  const abs = (p: string) => resolve(base, p);
  return {
    ...config,
    accounts: config.accounts.map((a) => ({
      ...a,
      ...(a.caFile ? { caFile: abs(a.caFile) } : {}),
      ...(a.secretFile ? { secretFile: abs(a.secretFile) } : {}),
    })),
    archive: 'dir' in config.archive ? { dir: abs(config.archive.dir) } : config.archive,
    events: 'file' in config.events ? { file: abs(config.events.file) } : config.events,
    ...(config.stateDir ? { stateDir: abs(config.stateDir) } : {}),
  };
}
