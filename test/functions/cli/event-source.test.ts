import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { startAwsStub, type AwsStub } from '../../support/aws-stub';
import { makeMessages } from '../../support/poll-fixtures';
import { SCRIPTED_PASSWORD, startScriptedMailbox } from '../../support/scripted-mailbox';
import { tempDir } from '../../support/temp';

/**
 * `events.eventBridge.source` in the CLI's config: the events the real command (the bundle
 * `npm run build` makes, built here) puts on the bus carry that source, run summary included.
 * EventBridge is the local AWS stub, reached through AWS_ENDPOINT_URL_EVENTBRIDGE.
 */

const ROOT = resolve(__dirname, '../../..');
const run = promisify(execFile);
let cli: string;
let aws: AwsStub;

beforeAll(async () => {
  cli = join(tempDir('source-cli-'), 'pop3-poller.js');
  await run(process.execPath, [join(ROOT, 'scripts/bundle-cli.mjs'), cli], { cwd: ROOT });
  aws = await startAwsStub();
}, 60_000);

afterAll(() => aws.close());

async function poll(eventBridge: Record<string, string>): Promise<string[]> {
  aws.reset();
  const mailbox = await startScriptedMailbox(makeMessages(2, { batch: 'source' }));
  const dir = tempDir('source-run-');
  const config = join(dir, 'config.json');
  const account = { ...mailbox.account('support'), password: SCRIPTED_PASSWORD };
  writeFileSync(
    config,
    JSON.stringify({ accounts: [account], archive: { dir: join(dir, 'archive') }, events: { eventBridge } }),
    { mode: 0o600 },
  );
  await run(process.execPath, [cli, 'poll', '--config', config], {
    cwd: dir,
    // The SDK is resolved from the project's node_modules, as `npx pop3-poller` does.
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', NODE_PATH: join(ROOT, 'node_modules'), ...aws.env() },
  });
  expect(mailbox.live.size).toBe(0);
  return aws.events.entries('mail-bus').map((e) => `${e.source} ${e.detailType}`);
}

describe('CLI: events.eventBridge.source', () => {
  it('is the source of every event the command puts on the bus', async () => {
    const events = await poll({ busName: 'mail-bus', source: 'acme.mail' });
    expect(events.sort()).toEqual([
      'acme.mail Message Archived',
      'acme.mail Message Archived',
      'acme.mail Poll Completed',
    ]);
  });

  it('defaults to pop3-poller', async () => {
    const events = await poll({ busName: 'mail-bus' });
    expect(new Set(events.map((e) => e.split(' ')[0]))).toEqual(new Set(['pop3-poller']));
  });
});
