import { execFileSync } from 'node:child_process';
import { resolve } from 'node:path';

/**
 * The lint rule that keeps imports pointing inward (eslint.config.mjs, MAY_IMPORT): each snippet is
 * linted by ESLint's Node API, with the project's config, as if it were a file in the directory
 * named. ESLint loads its config with a dynamic import, which Jest's module sandbox does not run,
 * so one child node process lints every snippet and reports the lines `no-restricted-imports`
 * flagged, with the messages.
 */

const ROOT = resolve(__dirname, '../..');

interface Case {
  readonly file: string;
  readonly code: string;
}
interface Finding {
  readonly line: number;
  readonly message: string;
}

const LINT_SNIPPETS = `
import { ESLint } from 'eslint';
let input = '';
for await (const chunk of process.stdin) input += chunk;
const eslint = new ESLint({ cwd: process.cwd() });
const out = [];
for (const { file, code } of JSON.parse(input)) {
  const [result] = await eslint.lintText(code, { filePath: file });
  out.push(result.messages.filter((m) => m.ruleId === 'no-restricted-imports').map(({ line, message }) => ({ line, message })));
}
process.stdout.write(JSON.stringify(out));
`;

function lint(cases: readonly Case[]): Finding[][] {
  const output = execFileSync(process.execPath, ['--input-type=module', '-e', LINT_SNIPPETS], {
    cwd: ROOT,
    input: JSON.stringify(cases),
    encoding: 'utf8',
  });
  return JSON.parse(output) as Finding[][];
}

/** [directory, import line, why it is refused] */
const REFUSED: ReadonlyArray<readonly [string, string, RegExp]> = [
  ['pop3', "import { PollError } from '../poller/errors';", /pop3\/ must not import poller\//],
  ['pop3', "import type { ArchiveStore } from '../poller/ports';", /pop3\/ must not import poller\//],
  [
    'poller',
    "import { S3ArchiveStore } from '../adapters/s3-archive-store';",
    /poller\/ must not import adapters\//,
  ],
  [
    'poller',
    "import type { RegistryReader } from '../registry/ports';",
    /poller\/ must not import registry\//,
  ],
  ['poller', "import { S3Client } from '@aws-sdk/client-s3';", /poller\/ must not use the AWS SDK/],
  ['poller', "import { Logger } from '@aws-lambda-powertools/logger';", /poller\/ must not use the AWS SDK/],
  ['poller', "import { Session } from '../pop3/session';", /import its public API from its index/],
  ['poller', "export { ENV } from '../handlers/contract';", /poller\/ must not import handlers\//],
  ['poller', "import { stackName } from '../../infra/config';", /must not import infra\//],
  [
    'registry',
    "import { DynamoDbRegistry } from '../adapters/dynamodb-registry';",
    /registry\/ must not import adapters\//,
  ],
  [
    'registry',
    "import { DynamoDBClient } from '@aws-sdk/client-dynamodb';",
    /registry\/ must not use the AWS SDK/,
  ],
  ['adapters', "import { dispatch } from '../handlers/dispatch';", /adapters\/ must not import handlers\//],
  [
    'adapters',
    "import type { PollJob } from '../handlers/contract';",
    /adapters\/ must not import handlers\//,
  ],
  // The job-queue port used to live in handlers/ as the rule's one exception; it is in jobs/ now.
  [
    'adapters',
    "import type { JobQueue } from '../handlers/job-queue';",
    /adapters\/ must not import handlers\//,
  ],
  ['adapters', "import { loadConfig } from '../cli/config';", /adapters\/ must not import cli\//],
  ['jobs', "import { shardOf } from '../handlers/shards';", /jobs\/ must not import handlers\//],
  ['jobs', "import type { AccountConfig } from '../poller/account';", /jobs\/ must not import poller\//],
  ['jobs', "import { SQSClient } from '@aws-sdk/client-sqs';", /jobs\/ must not use the AWS SDK/],
  ['handlers', "import { wire } from '../cli/wiring';", /handlers\/ must not import cli\//],
  ['handlers', "import { defaults } from '../../infra/config';", /must not import infra\//],
  ['cli/mailboxes', "import { defaults } from '../../../infra/config';", /must not import infra\//],
  [
    'replay',
    "import { S3ArchiveReader } from '../adapters/s3-archive-reader';",
    /replay\/ must not import adapters\//,
  ],
  ['replay', "import { replay } from '../cli/replay-command';", /replay\/ must not import cli\//],
  ['replay', "import { ENV } from '../handlers/contract';", /replay\/ must not import handlers\//],
  ['replay', "import { S3Client } from '@aws-sdk/client-s3';", /replay\/ must not use the AWS SDK/],
];

/** [directory, import line]: what the same directories may import. */
const ALLOWED: ReadonlyArray<readonly [string, string]> = [
  ['pop3', "import { Pop3Error } from './errors';"],
  ['pop3', "import { connect } from 'node:net';"],
  ['poller', "import { Pop3Client, type MessageStream } from '../pop3';"],
  ['poller', "import type { ArchiveStore } from './ports';"],
  ['registry', "import type { AccountConfig } from '../poller/account';"],
  ['adapters', "import type { ArchiveStore } from '../poller/ports';"],
  ['adapters', "import type { LastPollWriter } from '../registry/ports';"],
  ['adapters', "import type { JobQueue } from '../jobs/ports';"],
  ['jobs', "import type { BatchJob } from './job';"],
  ['handlers', "import type { JobQueue } from '../jobs/ports';"],
  ['adapters', "import { S3Client } from '@aws-sdk/client-s3';"],
  ['handlers', "import { SqsJobQueue } from '../adapters/sqs-job-queue';"],
  ['handlers', "import { pollAccounts } from '../poller/poll-accounts';"],
  ['cli', "import { S3ArchiveStore } from '../adapters/s3-archive-store';"],
  ['cli/mailboxes', "import type { MailboxRecord } from '../../registry/record';"],
  ['replay', "import { readMetadata } from '../poller/metadata';"],
  ['adapters', "import type { ArchiveReader } from '../replay/ports';"],
];

const fileIn = (dir: string) => `functions/${dir}/import-direction-example.ts`;

describe('eslint: imports point inward', () => {
  let refused: Finding[][];
  let allowed: Finding[][];
  let outside: Finding[];

  beforeAll(() => {
    const results = lint([
      ...REFUSED.map(([dir, code]) => ({ file: fileIn(dir), code })),
      ...ALLOWED.map(([dir, code]) => ({ file: fileIn(dir), code })),
      {
        file: 'test/functions/poller/example.test.ts',
        code: "import { Session } from '../../../functions/pop3/session';",
      },
    ]);
    refused = results.slice(0, REFUSED.length);
    allowed = results.slice(REFUSED.length, REFUSED.length + ALLOWED.length);
    outside = results[REFUSED.length + ALLOWED.length]!;
  }, 60_000);

  it.each(REFUSED.map((row, index) => [...row, index] as const))(
    'refuses in %s/: %s',
    (_dir, _code, why, index) => {
      expect(refused[index]).toHaveLength(1);
      expect(refused[index]![0]!.message).toMatch(why);
    },
  );

  it.each(ALLOWED.map((row, index) => [...row, index] as const))(
    'allows in %s/: %s',
    (_dir, _code, index) => {
      expect(allowed[index]).toEqual([]);
    },
  );

  it('does not check files outside functions/ (tests and benchmarks may reach into pop3/)', () => {
    expect(outside).toEqual([]);
  });
});
