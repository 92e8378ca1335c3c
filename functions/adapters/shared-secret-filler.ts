import {
  CreateSecretCommand,
  GetSecretValueCommand,
  ListSecretsCommand,
  PutSecretValueCommand,
  type SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { describeSdkError, errorName } from './sdk-errors';
import { SHARED_SECRET_MAX_BYTES, SHARED_SECRET_TAG, sharedEntries, sharedSecretName } from './shared-secret';

/**
 * Puts mailbox passwords into the shared secrets the CLI manages (shared-secret.ts): the secrets
 * named `<prefix>shared-NNNN` and tagged SHARED_SECRET_TAG. Entries are keyed by mailbox id and
 * hold `{ "password": … }`.
 *
 * Use: `load()` (ListSecrets, then GetSecretValue of each), any number of `place` and `remove`
 * (in memory), then `save()`: PutSecretValue for each secret that changed, CreateSecret for each
 * new one. A secret is filled while its JSON stays within SHARED_SECRET_MAX_BYTES (first fit, so
 * room left by removed mailboxes is reused); an id already in one of the secrets is replaced there
 * in place while the secret stays within Secrets Manager's 65,536 bytes, otherwise moved. Placing
 * the password an entry already holds changes nothing, so importing the same file again writes no
 * secret.
 *
 * Not safe against a second CLI filling the same secrets at the same time: the last save wins.
 *
 * Errors name secrets and mailbox ids; never a password, never a document, never a JSON parser's
 * message (which quotes its input).
 */

/** Secrets Manager's limit on a secret value. */
export const SECRET_VALUE_MAX_BYTES = 65_536;

export interface SharedSecretFillerOptions {
  /** @default SHARED_SECRET_MAX_BYTES */
  readonly maxBytes?: number;
  /** The Description of secrets it creates. */
  readonly description?: string;
}

export interface SaveResult {
  /** Names of the secrets created. */
  readonly created: readonly string[];
  /** Names of existing secrets written (PutSecretValue). */
  readonly updated: readonly string[];
}

interface Held {
  readonly name: string;
  readonly n: number;
  readonly document: Record<string, unknown>;
  readonly entries: Record<string, unknown>;
  /** Bytes of JSON.stringify(document) (UTF-8), kept as entries come and go. */
  size: number;
  changed: boolean;
  readonly created: boolean;
}

export class SharedSecretFiller {
  private readonly maxBytes: number;
  private readonly description: string;
  private readonly pattern: RegExp;
  private readonly secrets: Held[] = [];
  /** Entry key → the secret holding it. */
  private readonly holder = new Map<string, Held>();
  private nextN = 1;
  private listed = false;

  constructor(
    private readonly client: SecretsManagerClient,
    readonly prefix: string,
    options: SharedSecretFillerOptions = {},
  ) {
    this.maxBytes = options.maxBytes ?? SHARED_SECRET_MAX_BYTES;
    this.description =
      options.description ??
      'Login secrets of pop3-poller registry mailboxes (written by pop3-poller mailboxes)';
    this.pattern = new RegExp(`^${escapeRegExp(sharedSecretName(prefix, 0)).replace(/0+$/, '')}(\\d{4,})$`);
  }

  /** Whether a record's secretId names one of the shared secrets this filler manages. */
  isShared(secretId: string): boolean {
    return this.pattern.test(secretId);
  }

  /**
   * Finds the shared secrets (ListSecrets by tag key and name prefix, counting those scheduled for
   * deletion so that their names are not taken again) and reads them, or only the named ones.
   */
  async load(only?: readonly string[]): Promise<void> {
    let names: string[];
    if (only === undefined) {
      names = await this.list();
      this.listed = true;
    } else {
      names = [...new Set(only)].filter((name) => this.isShared(name));
    }
    for (const name of names.sort()) await this.read(name);
  }

  /** Sets the id's entry to `{ password }`; returns the name of the secret that holds it. */
  place(id: string, password: string): string {
    if (!this.listed) throw new Error('SharedSecretFiller.place needs load() first');
    const value = { password };
    const current = this.holder.get(id);
    if (current) {
      const old = current.entries[id];
      if (JSON.stringify(old) === JSON.stringify(value)) return current.name;
      const size = current.size - entryBytes(id, old) + entryBytes(id, value);
      if (size <= SECRET_VALUE_MAX_BYTES) {
        current.entries[id] = value;
        current.size = size;
        current.changed = true;
        return current.name;
      }
      this.removeFrom(current, id);
    }
    const target = this.withRoomFor(id, value);
    this.addTo(target, id, value);
    return target.name;
  }

  /** Removes the entry `key` from the named secret (loaded), or from whichever holds it; whether one was there. */
  remove(key: string, secretName?: string): boolean {
    const held = secretName ? this.secrets.find((s) => s.name === secretName) : this.holder.get(key);
    if (!held || !Object.hasOwn(held.entries, key)) return false;
    this.removeFrom(held, key);
    return true;
  }

  /** Writes every secret that changed. */
  async save(): Promise<SaveResult> {
    const created: string[] = [];
    const updated: string[] = [];
    for (const secret of this.secrets) {
      if (!secret.changed) continue;
      const text = JSON.stringify(secret.document);
      const bytes = Buffer.byteLength(text);
      if (bytes > SECRET_VALUE_MAX_BYTES) {
        throw new Error(
          `shared secret "${secret.name}" would hold ${bytes} bytes, over Secrets Manager's 65,536`,
        );
      }
      if (secret.created) {
        await this.create(secret.name, text);
        created.push(secret.name);
      } else {
        await this.put(secret.name, text);
        updated.push(secret.name);
      }
      secret.changed = false;
    }
    return { created, updated };
  }

  /** The entry keys each loaded secret holds (for reports and tests). */
  contents(): ReadonlyMap<string, readonly string[]> {
    return new Map(this.secrets.map((s) => [s.name, Object.keys(s.entries)]));
  }

  private withRoomFor(key: string, value: unknown): Held {
    for (const secret of this.secrets) {
      if (
        secret.size + entryBytes(key, value) + (Object.keys(secret.entries).length > 0 ? 1 : 0) <=
        this.maxBytes
      ) {
        return secret;
      }
    }
    const name = sharedSecretName(this.prefix, this.nextN++);
    const entries: Record<string, unknown> = {};
    const document = { mailboxes: entries };
    const secret: Held = {
      name,
      n: this.nextN - 1,
      document,
      entries,
      size: Buffer.byteLength(JSON.stringify(document)),
      changed: true,
      created: true,
    };
    this.secrets.push(secret);
    return secret;
  }

  private addTo(secret: Held, key: string, value: unknown): void {
    secret.size += entryBytes(key, value) + (Object.keys(secret.entries).length > 0 ? 1 : 0);
    secret.entries[key] = value;
    secret.changed = true;
    this.holder.set(key, secret);
  }

  private removeFrom(secret: Held, key: string): void {
    const count = Object.keys(secret.entries).length;
    secret.size -= entryBytes(key, secret.entries[key]) + (count > 1 ? 1 : 0);
    delete secret.entries[key];
    secret.changed = true;
    if (this.holder.get(key) === secret) this.holder.delete(key);
  }

  private async list(): Promise<string[]> {
    const names: string[] = [];
    let token: string | undefined;
    do {
      let page;
      try {
        page = await this.client.send(
          new ListSecretsCommand({
            Filters: [
              { Key: 'tag-key', Values: [SHARED_SECRET_TAG] },
              { Key: 'name', Values: [sharedSecretName(this.prefix, 0).replace(/0+$/, '')] },
            ],
            IncludePlannedDeletion: true,
            MaxResults: 100,
            ...(token ? { NextToken: token } : {}),
          }),
        );
      } catch (error) {
        throw new Error(
          `listing the shared secrets under "${this.prefix}" failed: ${describeSdkError(error)}`,
          {
            cause: error,
          },
        );
      }
      for (const entry of page.SecretList ?? []) {
        const match = entry.Name ? this.pattern.exec(entry.Name) : null;
        if (!match) continue;
        this.nextN = Math.max(this.nextN, Number(match[1]) + 1);
        // A secret scheduled for deletion keeps its name: skip it, and its number.
        if (entry.DeletedDate === undefined) names.push(entry.Name!);
      }
      token = page.NextToken;
    } while (token);
    return names;
  }

  private async read(name: string): Promise<void> {
    let text: string | undefined;
    try {
      text = (await this.client.send(new GetSecretValueCommand({ SecretId: name }))).SecretString;
    } catch (error) {
      throw new Error(`reading shared secret "${name}" failed: ${describeSdkError(error)}`, { cause: error });
    }
    let document: unknown;
    try {
      document = text === undefined ? undefined : JSON.parse(text);
    } catch {
      document = undefined;
    }
    const entries =
      document !== null && typeof document === 'object' && !Array.isArray(document)
        ? sharedEntries(document as Record<string, unknown>)
        : undefined;
    if (entries === undefined) {
      throw new Error(`shared secret "${name}" is not a JSON document with a "mailboxes" object`);
    }
    const match = this.pattern.exec(name);
    const held: Held = {
      name,
      n: match ? Number(match[1]) : 0,
      document: document as Record<string, unknown>,
      entries,
      size: Buffer.byteLength(JSON.stringify(document)),
      changed: false,
      created: false,
    };
    this.secrets.push(held);
    this.secrets.sort((a, b) => a.n - b.n);
    this.nextN = Math.max(this.nextN, held.n + 1);
    for (const key of Object.keys(entries)) if (!this.holder.has(key)) this.holder.set(key, held);
  }

  private async create(name: string, text: string): Promise<void> {
    try {
      await this.client.send(
        new CreateSecretCommand({
          Name: name,
          SecretString: text,
          Description: this.description,
          Tags: [{ Key: SHARED_SECRET_TAG, Value: 'true' }],
        }),
      );
    } catch (error) {
      const hint =
        errorName(error) === 'ResourceExistsException'
          ? ` (a secret of that name exists without the tag ${SHARED_SECRET_TAG}=true: tag it, or delete it)`
          : '';
      throw new Error(`creating shared secret "${name}" failed: ${describeSdkError(error)}${hint}`, {
        cause: error,
      });
    }
  }

  private async put(name: string, text: string): Promise<void> {
    try {
      await this.client.send(new PutSecretValueCommand({ SecretId: name, SecretString: text }));
    } catch (error) {
      throw new Error(`writing shared secret "${name}" failed: ${describeSdkError(error)}`, { cause: error });
    }
  }
}

/** Bytes `"key":value` adds to a compact JSON object (without the comma). */
function entryBytes(key: string, value: unknown): number {
  return Buffer.byteLength(JSON.stringify(key)) + 1 + Buffer.byteLength(JSON.stringify(value));
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
