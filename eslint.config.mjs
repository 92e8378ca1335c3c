import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/**
 * Imports point inward: pop3/ is the protocol core; poller/ is the workflow over it and its own
 * ports; registry/ holds the mailbox registry's ports; jobs/ the batch jobs and the job queue's
 * port; adapters/ implement ports with SDKs; only handlers/ and cli/ wire adapters to the
 * workflow; nothing in functions/ imports infra/ (the CDK app), and nothing outside pop3/ reaches
 * past its index into its files.
 *
 * Each directory of functions/ says which others it may import; every other one is refused, so a
 * new directory may import nothing of the project until it is added here. `no-restricted-imports`
 * sees the specifier as written, so the patterns match relative paths at any depth (`../x`,
 * `../../x`). Dynamic `import()` is not checked (handlers load adapters lazily that way).
 */
const MAY_IMPORT = {
  pop3: [],
  poller: ['pop3'],
  registry: ['poller', 'pop3'],
  // Replay works over the poller's event builder and metadata, through its own ports.
  replay: ['poller', 'pop3'],
  ses: ['poller', 'pop3'],
  jobs: [],
  adapters: ['poller', 'registry', 'replay', 'jobs', 'pop3'],
  // The wiring may import the rest of functions/, but a Lambda bundle never pulls in the CLI or
  // the fake POP3 server (demo and tests only).
  handlers: (other) => other !== 'cli' && other !== 'fake-pop3',
  cli: () => true,
};
/** Directories that may use the AWS SDK and the Lambda libraries. */
const MAY_USE_AWS = ['adapters', 'handlers', 'cli'];

const FUNCTIONS = readdirSync(join(import.meta.dirname, 'functions'), { withFileTypes: true })
  .filter((entry) => entry.isDirectory())
  .map((entry) => entry.name);
/** A relative specifier that climbs out of the file's directory into `dir` (names are [a-z0-9-]). */
const up = (dir) => `^(\\.\\./)+${dir}`;

function inwardImports(dir) {
  const may = MAY_IMPORT[dir] ?? [];
  const allows = typeof may === 'function' ? may : (other) => may.includes(other);
  const patterns = FUNCTIONS.filter((other) => other !== dir && !allows(other)).map((other) => ({
    regex: `${up(other)}(/|$)`,
    message: `${dir}/ must not import ${other}/: imports point inward (eslint.config.mjs, MAY_IMPORT).`,
  }));
  patterns.push({
    regex: `${up('infra')}(/|$)`,
    message:
      'functions/ must not import infra/ (the CDK app); shared names live in functions/handlers/contract.ts.',
  });
  if (dir !== 'pop3') {
    patterns.push({
      regex: `${up('pop3')}/`,
      message: "pop3/'s files are its own: import its public API from its index ('../pop3').",
    });
  }
  if (!MAY_USE_AWS.includes(dir)) {
    patterns.push({
      group: ['@aws-sdk/*', '@aws-lambda-powertools/*', 'aws-lambda'],
      message: `${dir}/ must not use the AWS SDK or Lambda libraries: that is for adapters/ and handlers/.`,
    });
  }
  return { files: [`functions/${dir}/**/*.ts`], rules: { 'no-restricted-imports': ['error', { patterns }] } };
}

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'cdk.out/', 'coverage/', 'demo-output/', '*.js'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-constant-condition': ['error', { checkLoops: false }],
    },
  },
  {
    // Node 20's recursive mkdir never returns on a path under /proc (it retries ENOENT for ever):
    // the product creates directories with functions/adapters/make-directory.ts instead.
    files: ['functions/**/*.ts'],
    rules: {
      'no-restricted-syntax': [
        'error',
        {
          selector:
            "CallExpression:matches([callee.name=/^mkdir(Sync)?$/], [callee.property.name=/^mkdir(Sync)?$/]) > ObjectExpression > Property[key.name='recursive']",
          message:
            'mkdir with `recursive` can loop for ever (Node 20, paths under /proc): use makeDirectory from functions/adapters/make-directory.ts.',
        },
      ],
    },
  },
  ...FUNCTIONS.map(inwardImports),
);
