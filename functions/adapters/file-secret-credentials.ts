import { randomBytes } from 'node:crypto';
import { chmod, open, readFile, rename, stat, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { CredentialError, localPathError } from './errors';
import { SecretDocumentCredentials, type SecretDocumentOptions } from './secret-document';
import { lookupAccount } from './per-account';
import { writeFullySync } from './write-fully';

/**
 * The CLI's `secretFile` accounts: the account secret as a local JSON file, in the same format as a
 * Secrets Manager secret (secret-document.ts) — a password, or an `oauth2` block. A refresh token
 * rotated by the provider is written back into the file (atomically: a temporary file beside it,
 * fsync'd, renamed over it, keeping the file's mode); if that fails the run goes on with the new
 * token in memory, and the warning says so, naming the file and the OS error (one line, nothing of
 * the file's content), and no temporary file is left behind.
 *
 * Errors name the account and the file, never its content.
 */

export interface FileSecretCredentialsOptions extends SecretDocumentOptions {
  /** Account id → path of its secret file. */
  readonly files: Readonly<Record<string, string>> | ReadonlyMap<string, string>;
}

export class FileSecretCredentials extends SecretDocumentCredentials {
  private readonly files: Readonly<Record<string, string>> | ReadonlyMap<string, string>;

  constructor(options: FileSecretCredentialsOptions) {
    super(options);
    this.files = options.files;
  }

  protected secretIdFor(accountId: string): string {
    const file = lookupAccount(this.files, accountId);
    if (!file)
      throw new CredentialError('not-found', `no secret file is configured for account "${accountId}"`);
    return file;
  }

  protected async read(file: string): Promise<string> {
    try {
      return await readFile(file, 'utf8');
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      const reason =
        code === 'ENOENT' ? 'not-found' : code === 'EACCES' || code === 'EPERM' ? 'access-denied' : 'invalid';
      throw new CredentialError(reason, `secret file "${file}" cannot be read (${code ?? 'error'})`);
    }
  }

  protected async write(file: string, text: string): Promise<void> {
    const temp = join(dirname(file), `.${basename(file)}.${randomBytes(6).toString('hex')}.tmp`);
    let created = false;
    try {
      const mode = (await stat(file)).mode & 0o777;
      const handle = await open(temp, 'wx', 0o600);
      created = true;
      try {
        writeFullySync(handle.fd, Buffer.from(`${text}\n`, 'utf8'), temp);
        await handle.sync();
      } finally {
        await handle.close();
      }
      await chmod(temp, mode);
      await rename(temp, file);
    } catch (error) {
      // A full disk mid-write must not leave a partial copy of the secret beside the file.
      if (created) await unlink(temp).catch(() => undefined);
      // The temporary name means nothing to the user: name the directory it was to go in.
      const failed = error as NodeJS.ErrnoException;
      throw localPathError(
        'secret file',
        file,
        failed.path === temp ? { code: failed.code, path: dirname(file) } : error,
      );
    }
  }
}
