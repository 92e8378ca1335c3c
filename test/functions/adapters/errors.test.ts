import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  ADAPTER_ERROR_CODES,
  ArchiveError,
  CredentialError,
  localPathError,
  RegistryWriteError,
  SeenStoreError,
} from '../../../functions/adapters/errors';
import { describeFailure } from '../../../functions/poller/errors';

const ROOT = join(__dirname, '../../..');
const ADAPTERS = join(ROOT, 'functions/adapters');

/** The section of docs/errors.md that documents this catalogue. */
function adaptersSection(): string {
  const doc = readFileSync(join(ROOT, 'docs/errors.md'), 'utf8');
  const start = doc.indexOf('## The adapters (functions/adapters/errors.ts)');
  expect(start).toBeGreaterThan(-1);
  const end = doc.indexOf('\n## ', start + 1);
  return doc.slice(start, end === -1 ? undefined : end);
}

describe('functions/adapters/errors.ts: the adapters’ catalogue', () => {
  it('declares every error class of functions/adapters/ (no adapter defines its own)', () => {
    const elsewhere = readdirSync(ADAPTERS)
      .filter((name) => name.endsWith('.ts') && name !== 'errors.ts')
      .filter((name) => /\bclass\s+\w+\s+extends\s+Error\b/.test(readFileSync(join(ADAPTERS, name), 'utf8')));
    expect(elsewhere).toEqual([]);
  });

  it('lists every code its classes raise, and nothing else', () => {
    const raised = new Set<string>([
      new ArchiveError('conflict', 'k', 'm').code,
      new ArchiveError('unavailable', 'k', 'm').code,
      new CredentialError('invalid', 'm').code,
      localPathError('archive directory', '/x', { code: 'EACCES' }).code,
      localPathError('keep-mode state directory', '/x', { code: 'EACCES' }, 'ESTATE').code,
      new SeenStoreError('m', { retryable: true }).code,
      new RegistryWriteError(['a'], 'm').code,
    ]);
    expect([...raised].sort()).toEqual([...ADAPTER_ERROR_CODES].sort());
  });

  it('raises ESTATE and EREGISTRY in the shape the workflow reports', () => {
    expect(
      describeFailure(new SeenStoreError('reading keep-mode state failed', { retryable: false })),
    ).toEqual({
      code: 'ESTATE',
      message: 'reading keep-mode state failed',
      retryable: false,
      needsAttention: true,
    });
    const registry = new RegistryWriteError(['m1', 'm2'], '2 registry records were not written');
    expect(registry).toMatchObject({ name: 'RegistryWriteError', ids: ['m1', 'm2'], retryable: true });
    expect(describeFailure(registry)).toMatchObject({
      code: 'EREGISTRY',
      retryable: true,
      needsAttention: false,
    });
  });

  it('is what docs/errors.md documents: each code and class in its adapters section', () => {
    const section = adaptersSection();
    for (const code of ADAPTER_ERROR_CODES) expect(section).toContain(`\`${code}\``);
    for (const name of [
      'ArchiveError',
      'CredentialError',
      'LocalPathError',
      'SeenStoreError',
      'RegistryWriteError',
    ]) {
      expect(section).toContain(`\`${name}\``);
    }
  });
});
