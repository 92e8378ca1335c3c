import { build } from 'esbuild';
import { BUNDLE, ENTRY_POINTS, entryPath, PROJECT_ROOT } from '../../infra/bundling';

/**
 * The Lambda bundles hold only what a Lambda runs: the fake POP3 server (functions/fake-pop3/, for
 * the demo and the tests) and the CLI must never be pulled in by a handler's imports.
 */
describe('Module: infra/bundling', () => {
  it.each(ENTRY_POINTS)('keeps the fake POP3 server and the CLI out of the %s bundle', async (name) => {
    const result = await build({
      entryPoints: [entryPath(name)],
      absWorkingDir: PROJECT_ROOT,
      bundle: true,
      write: false,
      metafile: true,
      platform: BUNDLE.platform,
      format: BUNDLE.format,
      target: BUNDLE.target,
      external: [...BUNDLE.externalModules],
      mainFields: [...BUNDLE.mainFields],
      logLevel: 'silent',
    });
    const sources = Object.keys(result.metafile.inputs).filter((path) => path.startsWith('functions/'));
    expect(sources).toContain(`functions/handlers/${name}.ts`);
    expect(sources.filter((path) => /^functions\/(fake-pop3|cli)\//.test(path))).toEqual([]);
  });
});
