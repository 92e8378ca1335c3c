import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig } from '../../../functions/cli/config';
import { secretFileWarnings } from '../../../functions/cli/secret-files';
import { tempDir } from '../../support/temp';

/** Warnings for files that hold secrets and that others may read. */

const dir = tempDir('secret-files-');
const account = { id: 'support', host: 'pop.example.com', username: 'support' };

function configFile(name: string, accounts: object[], mode: number): string {
  const file = join(dir, name);
  writeFileSync(file, JSON.stringify({ accounts, archive: { dir: './archive' }, events: { stdout: true } }));
  chmodSync(file, mode);
  return file;
}

function warnings(file: string): string[] {
  return secretFileWarnings(loadConfig(file), file);
}

describe('secretFileWarnings', () => {
  it('warns about a config with an inline password that anyone, or its group, can read', () => {
    const world = configFile('world.json', [{ ...account, password: 'inline-secret' }], 0o644);
    expect(warnings(world)).toEqual([
      `${world} holds secrets and anyone on this machine can read it (mode 0644); chmod 600 ${world}`,
    ]);
    const group = configFile('group.json', [{ ...account, password: 'inline-secret' }], 0o640);
    expect(warnings(group)).toEqual([
      `${group} holds secrets and its group can read it (mode 0640); chmod 600 ${group}`,
    ]);
    expect(warnings(world).join('')).not.toContain('inline-secret');
  });

  it('says nothing of a config readable by its owner alone, or one without a password in it', () => {
    expect(warnings(configFile('private.json', [{ ...account, password: 'inline-secret' }], 0o600))).toEqual(
      [],
    );
    expect(warnings(configFile('env.json', [{ ...account, passwordEnv: 'POP3_PASSWORD' }], 0o644))).toEqual(
      [],
    );
  });

  it('warns about a readable secretFile, and leaves a missing one to the poll that needs it', () => {
    const secret = join(dir, 'support.secret.json');
    writeFileSync(secret, JSON.stringify({ password: 'in-a-file' }));
    chmodSync(secret, 0o644);
    const config = configFile(
      'files.json',
      [
        { id: 'support', host: 'pop.example.com', username: 'support', secretFile: 'support.secret.json' },
        { id: 'sales', host: 'pop.example.com', username: 'sales', secretFile: 'missing.json' },
      ],
      0o644,
    );
    expect(warnings(config)).toEqual([
      `${secret} holds secrets and anyone on this machine can read it (mode 0644); chmod 600 ${secret}`,
    ]);
  });
});
