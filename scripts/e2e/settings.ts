import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { DeploymentSettings } from '../../infra/config-file';
import type { Pop3PollerProps } from '../../infra/props';

/**
 * What the end-to-end script is told (environment variables and arguments) and what it derives
 * from that: the throw-away stack's name and its deployment file. Problems are reported by
 * variable name and rule, never with a value: one of these variables is a password.
 */

/** The account id the test deployment polls, in archive keys and events. */
export const E2E_ACCOUNT_ID = 'e2e';
/** The archive prefix of the test deployment. */
export const E2E_ARCHIVE_PREFIX = 'mail/';
export const STACK_NAME_PREFIX = 'Pop3E2E-';

export const DEFAULT_TIMEOUT_SECONDS = 600;

export interface Pop3Settings {
  readonly host: string;
  readonly port: number;
  readonly tls: 'implicit' | 'starttls';
  readonly username: string;
  readonly password: string;
  /** PEM of a private CA that signs the server's certificate (E2E_POP3_CA_FILE). */
  readonly caPem?: string;
}

export interface E2eSettings {
  readonly pop3: Pop3Settings;
  /** Messages the mailbox must hold before the run; unset: whatever it holds (at least one). */
  readonly expectMessages: number | undefined;
  /** How long to wait for the archive and the events after the job is sent. */
  readonly timeoutSeconds: number;
  readonly region: string;
  /** AWS_PROFILE, when set (the SDK and the CDK CLI both read it from the environment). */
  readonly profile: string | undefined;
}

/** For `--synth-only`: no mailbox, no AWS. */
export interface SynthSettings {
  readonly caPem: string | undefined;
}

export class E2eSettingsError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`Invalid end-to-end test settings:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'E2eSettingsError';
  }
}

/** Every E2E_ variable the script reads, with its meaning, for `--help` and for typo detection. */
export const VARIABLES: ReadonlyArray<readonly [name: string, meaning: string]> = [
  ['E2E_POP3_HOST', 'POP3 server of the test mailbox (required)'],
  ['E2E_POP3_PORT', 'its port (default 995 with implicit TLS, 110 with starttls)'],
  ['E2E_POP3_TLS', '"implicit" (default) or "starttls"'],
  ['E2E_POP3_USERNAME', 'login of the test mailbox (required)'],
  ['E2E_POP3_PASSWORD', 'its password (required; never printed, never written to disk)'],
  ['E2E_POP3_CA_FILE', 'PEM file of a private CA signing the server certificate (optional)'],
  [
    'E2E_EXPECT_MESSAGES',
    'messages the mailbox holds before the run (optional; default: what STAT says, at least 1)',
  ],
  [
    'E2E_TIMEOUT_SECONDS',
    `how long to wait for the archive and events (default ${DEFAULT_TIMEOUT_SECONDS}, 60-3600)`,
  ],
];

type Env = Readonly<Record<string, string | undefined>>;

const HOST = /^[A-Za-z0-9.-]{1,253}$|^\[?[0-9A-Fa-f:.]+\]?$/;
const REGION = /^[a-z]{2}(-[a-z]+)+-\d{1,2}$/;

/** Reads and checks the settings of a real run; throws an `E2eSettingsError` listing every problem. */
export function readSettings(env: Env): E2eSettings {
  const problems: string[] = [];
  problems.push(...unknownVariables(env));
  const value = (name: string): string | undefined => {
    const v = env[name];
    return v === undefined || v === '' ? undefined : v;
  };
  const required = (name: string): string => {
    const v = value(name);
    if (v === undefined) problems.push(`${name} is not set`);
    return v ?? '';
  };

  const host = required('E2E_POP3_HOST');
  if (host !== '' && !HOST.test(host)) problems.push('E2E_POP3_HOST must be a host name or an IP address');
  const tlsText = value('E2E_POP3_TLS') ?? 'implicit';
  let tls: Pop3Settings['tls'] = 'implicit';
  if (tlsText === 'implicit' || tlsText === 'starttls') tls = tlsText;
  else if (tlsText === 'none') {
    problems.push(
      'E2E_POP3_TLS "none" is not supported: the deployed worker never sends a password in clear text; ' +
        'use "implicit" or "starttls"',
    );
  } else problems.push('E2E_POP3_TLS must be "implicit" or "starttls"');
  const port = integer(value('E2E_POP3_PORT'), 'E2E_POP3_PORT', 1, 65535, problems) ?? defaultPort(tls);
  const username = required('E2E_POP3_USERNAME');
  const password = required('E2E_POP3_PASSWORD');
  const caPem = readCaFile(value('E2E_POP3_CA_FILE'), problems);
  const expectMessages = integer(value('E2E_EXPECT_MESSAGES'), 'E2E_EXPECT_MESSAGES', 1, 1000, problems);
  const timeoutSeconds =
    integer(value('E2E_TIMEOUT_SECONDS'), 'E2E_TIMEOUT_SECONDS', 60, 3600, problems) ??
    DEFAULT_TIMEOUT_SECONDS;

  const region = value('AWS_REGION') ?? value('AWS_DEFAULT_REGION');
  if (region === undefined) {
    problems.push(
      'AWS_REGION (or AWS_DEFAULT_REGION) is not set: name the region to deploy the test stack in',
    );
  } else if (!REGION.test(region)) {
    problems.push('AWS_REGION must be an AWS region such as "eu-west-1"');
  }

  if (problems.length > 0) throw new E2eSettingsError(problems);
  return {
    pop3: { host, port, tls, username, password, ...(caPem !== undefined ? { caPem } : {}) },
    expectMessages,
    timeoutSeconds,
    region: region!,
    profile: value('AWS_PROFILE'),
  };
}

/** The settings `--synth-only` needs: none but an optional CA file. */
export function readSynthSettings(env: Env): SynthSettings {
  const problems: string[] = [...unknownVariables(env)];
  const file = env.E2E_POP3_CA_FILE;
  const caPem = readCaFile(file === '' ? undefined : file, problems);
  if (problems.length > 0) throw new E2eSettingsError(problems);
  return { caPem };
}

/** E2E_ variables the script does not know: most likely a typo that would otherwise go unnoticed. */
function unknownVariables(env: Env): string[] {
  const known = new Set(VARIABLES.map(([name]) => name));
  return Object.keys(env)
    .filter((name) => name.startsWith('E2E_') && !known.has(name))
    .sort()
    .map((name) => `${name} is not a known variable (known: ${[...known].join(', ')})`);
}

function integer(
  text: string | undefined,
  name: string,
  min: number,
  max: number,
  problems: string[],
): number | undefined {
  if (text === undefined) return undefined;
  const n = /^\d{1,7}$/.test(text) ? Number(text) : NaN;
  if (!(n >= min && n <= max)) {
    problems.push(`${name} must be an integer from ${min} to ${max}`);
    return undefined;
  }
  return n;
}

function defaultPort(tls: Pop3Settings['tls']): number {
  return tls === 'implicit' ? 995 : 110;
}

/** The worker's EXTRA_CA_PEM holds at most this much (infra/validation.ts). */
const MAX_CA_PEM_CHARS = 3000;

function readCaFile(file: string | undefined, problems: string[]): string | undefined {
  if (file === undefined) return undefined;
  let pem: string;
  try {
    pem = readFileSync(file, 'utf8');
  } catch (error) {
    problems.push(`E2E_POP3_CA_FILE cannot be read (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
    return undefined;
  }
  if (!pem.includes('-----BEGIN CERTIFICATE-----') || pem.length > MAX_CA_PEM_CHARS) {
    problems.push(
      `E2E_POP3_CA_FILE must hold PEM certificate(s), at most ${MAX_CA_PEM_CHARS} characters ` +
        "(it becomes the worker's extraCaPem)",
    );
    return undefined;
  }
  return pem;
}

/** `Pop3E2E-<10 random [a-z0-9]>`: unique, so everything named after it is this run's own. */
export function makeStackName(random: () => Buffer = () => randomBytes(10)): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789';
  const suffix = Array.from(random().subarray(0, 10), (byte) => alphabet[byte % alphabet.length]).join('');
  if (suffix.length !== 10) throw new Error('makeStackName: not enough random bytes');
  return `${STACK_NAME_PREFIX}${suffix}`;
}

/** The name of the secret the test stack creates (the construct's default `secretNamePrefix`). */
export function e2eSecretName(stackName: string): string {
  return `pop3-poller/${stackName}/${E2E_ACCOUNT_ID}`;
}

/**
 * The test deployment (infra/config-file.ts format): one account whose secret the stack creates,
 * its schedule deployed disabled (the script sends the job itself, so nothing polls before the
 * secret is filled in), the example rule's sample queue on, everything else at its default.
 */
export function e2eDeployment(
  stackName: string,
  caPem: string | undefined,
): DeploymentSettings & { poller: Pop3PollerProps } {
  return {
    stackName,
    poller: {
      accounts: [{ id: E2E_ACCOUNT_ID, secret: 'create', schedule: 'e2e' }],
      scheduleGroups: { e2e: { expression: 'rate(1 day)', enabled: false } },
      defaultScheduleGroup: 'e2e',
      eventBus: { type: 'custom', archiveRetentionDays: 1, exampleRule: true },
      archive: { prefix: E2E_ARCHIVE_PREFIX, encryption: 'aws-managed' },
      worker: { maxConcurrency: 2, ...(caPem !== undefined ? { extraCaPem: caPem } : {}) },
      logRetentionDays: 7,
      dashboard: false,
    },
  };
}

/** The account secret's JSON (docs/deploy.md, "The account secret"). */
export function secretString(pop3: Pop3Settings): string {
  return JSON.stringify({
    host: pop3.host,
    port: pop3.port,
    tls: pop3.tls,
    username: pop3.username,
    password: pop3.password,
  });
}

/** The child processes' environment: the region pinned, the mailbox's settings left out. */
export function childEnvironment(env: Env, region: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, v] of Object.entries(env)) {
    if (v !== undefined && !name.startsWith('E2E_')) out[name] = v;
  }
  if (region !== undefined) {
    out.AWS_REGION = region;
    out.AWS_DEFAULT_REGION = region;
  }
  return out;
}
