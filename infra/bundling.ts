import * as path from 'node:path';
import { OutputFormat, type BundlingOptions } from 'aws-cdk-lib/aws-lambda-nodejs';

/**
 * How the Lambda entry points are bundled, in one place: the construct (infra/constructs/lambda.ts)
 * hands these to `NodejsFunction`, and `npm run bench:bundle` (bench/bundle.ts) builds with the
 * same options through esbuild directly, to measure the bundles' size and module init time.
 */

export const PROJECT_ROOT = path.join(__dirname, '..');
export const HANDLERS_DIR = path.join(PROJECT_ROOT, 'functions', 'handlers');
/** The Lambda entry points, by name (`functions/handlers/<name>.ts`, export `handler`). */
export const ENTRY_POINTS = ['worker', 'dispatcher', 'ses-inbound'] as const;
export type EntryPoint = (typeof ENTRY_POINTS)[number];

export const entryPath = (name: EntryPoint): string => path.join(HANDLERS_DIR, `${name}.ts`);

/**
 * Packages left out of the bundle: the AWS SDK v3 that the Node.js 22 and 24 Lambda runtimes
 * provide (with its `@smithy/*` internals, which are only ever reached through the SDK). Keeping
 * them out is most of the bundle's size and of its module init time.
 */
export const EXTERNAL_MODULES: readonly string[] = ['@aws-sdk/*', '@smithy/*'];

/** ESM builds first, so esbuild can tree-shake packages that ship both (Powertools, valibot). */
export const MAIN_FIELDS: readonly string[] = ['module', 'main'];

/** The esbuild settings both the construct and the benchmark use. */
export const BUNDLE = {
  minify: true,
  /** Maps without the sources: stack traces point at the right line, the bundle stays small. */
  sourceMap: true,
  sourcesContent: false,
  format: 'cjs',
  platform: 'node',
  target: 'node22',
  externalModules: EXTERNAL_MODULES,
  mainFields: MAIN_FIELDS,
} as const;

/** `NodejsFunction`'s bundling props for the settings above. */
export function lambdaBundling(): BundlingOptions {
  return {
    minify: BUNDLE.minify,
    sourceMap: BUNDLE.sourceMap,
    sourcesContent: BUNDLE.sourcesContent,
    format: OutputFormat.CJS,
    target: BUNDLE.target,
    externalModules: [...BUNDLE.externalModules],
    mainFields: [...BUNDLE.mainFields],
  };
}
