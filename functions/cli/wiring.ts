import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AccountConfig } from '../poller/account';
import type { CheckDependencies } from '../poller/check';
import type { PollDependencies } from '../poller/poll-account';
import type { ArchiveStore, CredentialSource, EventSink } from '../poller/ports';
import { DirectoryArchiveStore } from '../adapters/directory-archive-store';
import { FileSecretCredentials } from '../adapters/file-secret-credentials';
import { FileSeenStore } from '../adapters/file-seen-store';
import { JsonLinesEventSink } from '../adapters/jsonl-event-sink';
import { OAuth2TokenProvider } from '../adapters/oauth2-token-provider';
import { StaticCredentials, type StaticAccountCredentials } from '../adapters/static-credentials';
import type * as EventBridgeSdk from '@aws-sdk/client-eventbridge';
import type * as SecretsManagerSdk from '@aws-sdk/client-secrets-manager';
import type * as EventBridgeSinkModule from '../adapters/eventbridge-sink';
import type * as S3ClientModule from '../adapters/s3-client';
import type * as S3StoreModule from '../adapters/s3-archive-store';
import type * as SecretsModule from '../adapters/secrets-manager-credentials';
import { ConfigError, type CliAccount, type CliConfig } from './config';

/* eslint-disable @typescript-eslint/no-require-imports -- AWS SDK modules are loaded on demand:
   requiring them costs ~100 ms of start-up that a local run should not pay. */

/**
 * Turns a validated CLI config into the workflow's accounts and ports. AWS SDK modules are loaded
 * only when the config asks for an AWS service, so a local run starts fast.
 */
export interface Wiring {
  readonly accounts: AccountConfig[];
  readonly deps: PollDependencies;
}

export interface WiringOptions {
  /**
   * OAuth 2.0 tokens, shared by the passes of `poll --every` so that a token serves until it
   * nears expiry; a fresh provider by default.
   */
  readonly tokens?: OAuth2TokenProvider;
}

/**
 * The ports for one pass. Credential sources read each secret once per instance, so a pass that
 * wires anew re-reads secrets (a rotated password is picked up by the next pass).
 */
export async function wire(config: CliConfig, options: WiringOptions = {}): Promise<Wiring> {
  const { accounts, deps } = await wireCheck(config, options);
  const archive = await archiveStore(config);
  const events = await eventSink(config);
  return { accounts, deps: { ...deps, archive, events } };
}

/**
 * What `check` needs: the accounts, their credentials and the keep-mode state (read only). Not the
 * archive or the events sink: a check stores nothing.
 */
export async function wireCheck(
  config: CliConfig,
  options: WiringOptions = {},
): Promise<{ accounts: AccountConfig[]; deps: CheckDependencies }> {
  const stateDir = stateDirOf(config);
  return {
    accounts: config.accounts.map(toAccountConfig),
    deps: {
      credentials: await credentialSource(config.accounts, options.tokens ?? new OAuth2TokenProvider()),
      seen: new FileSeenStore(stateDir),
    },
  };
}

/** Where keep-mode state lives: `stateDir`, else `<archive dir>/.state`, else `./.pop3-poller-state`. */
export function stateDirOf(config: CliConfig): string {
  return (
    config.stateDir ?? ('dir' in config.archive ? join(config.archive.dir, '.state') : '.pop3-poller-state')
  );
}

function toAccountConfig(a: CliAccount): AccountConfig {
  let caPem: string | undefined;
  if (a.caFile) {
    try {
      caPem = readFileSync(a.caFile, 'utf8');
    } catch (error) {
      throw new ConfigError(
        `account "${a.id}": cannot read caFile ${a.caFile}: ${(error as NodeJS.ErrnoException).code}`,
      );
    }
  }
  return {
    id: a.id,
    ...(a.provider !== undefined ? { provider: a.provider } : {}),
    ...(a.host !== undefined ? { host: a.host } : {}),
    ...(a.port !== undefined ? { port: a.port } : {}),
    ...(a.tls !== undefined ? { tls: a.tls } : {}),
    ...(a.username !== undefined ? { username: a.username } : {}),
    // Unset stays unset: the workflow defaults to delete, except for Gmail `recent:` logins.
    ...(a.mode !== undefined ? { mode: a.mode } : {}),
    ...(a.deleteAfterDays !== undefined ? { deleteAfterDays: a.deleteAfterDays } : {}),
    ...(caPem !== undefined ? { caPem } : {}),
    ...(a.certificateSha256 !== undefined ? { certificateSha256: a.certificateSha256 } : {}),
    ...(a.allowPlaintextAuth !== undefined ? { allowPlaintextAuth: a.allowPlaintextAuth } : {}),
    ...(a.authMethod !== undefined ? { authMethod: a.authMethod } : {}),
    ...(a.maxMessages !== undefined ? { maxMessages: a.maxMessages } : {}),
    ...(a.maxBytes !== undefined ? { maxBytes: a.maxBytes } : {}),
  };
}

async function archiveStore(config: CliConfig): Promise<ArchiveStore> {
  if ('dir' in config.archive) return new DirectoryArchiveStore({ dir: config.archive.dir });
  const { s3 } = config.archive;
  const { createS3Client } = require('../adapters/s3-client') as typeof S3ClientModule;
  const { S3ArchiveStore } = require('../adapters/s3-archive-store') as typeof S3StoreModule;
  const client = createS3Client({
    ...(s3.region ? { region: s3.region } : {}),
    ...(s3.endpoint ? { endpoint: s3.endpoint } : {}),
    ...(s3.forcePathStyle !== undefined ? { forcePathStyle: s3.forcePathStyle } : {}),
  });
  return new S3ArchiveStore(client, {
    bucket: s3.bucket,
    ...(s3.prefix !== undefined ? { prefix: s3.prefix } : {}),
    ...(s3.kmsKeyId ? { kmsKeyId: s3.kmsKeyId } : {}),
  });
}

async function eventSink(config: CliConfig): Promise<EventSink> {
  const { events } = config;
  if ('file' in events) {
    // The workflow reports an unpublished event by its id; the path and the OS error are said
    // here, once per distinct failure (one line, not one per message).
    const said = new Set<string>();
    return new JsonLinesEventSink({
      file: events.file,
      onFailure: ({ errorMessage }) => {
        if (!errorMessage || said.has(errorMessage)) return;
        said.add(errorMessage);
        process.stderr.write(`pop3-poller: ${errorMessage}\n`);
      },
    });
  }
  if ('stdout' in events) return new JsonLinesEventSink({ stdout: true });
  const { EventBridgeClient } = require('@aws-sdk/client-eventbridge') as typeof EventBridgeSdk;
  const { EventBridgeSink } = require('../adapters/eventbridge-sink') as typeof EventBridgeSinkModule;
  const client = new EventBridgeClient(
    events.eventBridge.region ? { region: events.eventBridge.region } : {},
  );
  return new EventBridgeSink(client, { eventBusName: events.eventBridge.busName });
}

/**
 * Inline passwords and `passwordEnv` are resolved locally; `secretFile` accounts read a local JSON
 * secret (password or OAuth 2.0 settings, written back when a refresh token rotates); `secretId`
 * accounts ask Secrets Manager. One token provider serves them all, so accounts sharing an app
 * registration share its token.
 */
async function credentialSource(
  accounts: readonly CliAccount[],
  tokens: OAuth2TokenProvider,
): Promise<CredentialSource> {
  const local = new Map<string, StaticAccountCredentials>();
  const secretIds = new Map<string, string>();
  const secretFiles = new Map<string, string>();
  for (const a of accounts) {
    if (a.secretId) secretIds.set(a.id, a.secretId);
    else if (a.secretFile) secretFiles.set(a.id, a.secretFile);
    else
      local.set(a.id, {
        ...(a.username ? { username: a.username } : {}),
        ...(a.password !== undefined ? { password: a.password } : {}),
        ...(a.passwordEnv !== undefined ? { passwordEnv: a.passwordEnv } : {}),
      });
  }
  const shared = {
    tokens,
    onWarning: (message: string) => process.stderr.write(`pop3-poller: warning: ${message}\n`),
  };
  const sources = new Map<string, CredentialSource>();
  const staticSource = new StaticCredentials(local);
  for (const id of local.keys()) sources.set(id, staticSource);
  if (secretFiles.size > 0) {
    const files = new FileSecretCredentials({ ...shared, files: secretFiles });
    for (const id of secretFiles.keys()) sources.set(id, files);
  }
  if (secretIds.size > 0) {
    const { SecretsManagerClient } = require('@aws-sdk/client-secrets-manager') as typeof SecretsManagerSdk;
    const { SecretsManagerCredentials } =
      require('../adapters/secrets-manager-credentials') as typeof SecretsModule;
    const secrets = new SecretsManagerCredentials(new SecretsManagerClient({}), secretIds, shared);
    for (const id of secretIds.keys()) sources.set(id, secrets);
  }
  return {
    credentials: (account, request) =>
      (sources.get(account.id) ?? staticSource).credentials(account, request),
  };
}
