import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { poll } from '../../../functions/cli/poll-command';
import { replay, type ReplayIo } from '../../../functions/cli/replay-command';
import { createS3Client } from '../../../functions/adapters/s3-client';
import { startAwsStub, type AwsStub } from '../../support/aws-stub';
import { makeMessages } from '../../support/poll-fixtures';
import { SCRIPTED_PASSWORD, startScriptedMailbox } from '../../support/scripted-mailbox';
import { tempDir } from '../../support/temp';

/**
 * The S3 path end to end, against the local AWS stub (real SDK clients over HTTP): a poll archives
 * to the bucket (S3ArchiveStore, with its archive-record metadata) and puts its events on a bus;
 * `replay --bucket … --endpoint … --event-bus …` puts the very same events (plus detail.replay) on
 * another bus, and the bucket is left as it was: only ListObjectsV2 and GetObject were sent to S3.
 */

let aws: AwsStub;
const saved = { ...process.env };

beforeAll(async () => {
  aws = await startAwsStub();
  // The poll's EventBridge client finds the stub through AWS_ENDPOINT_URL_EVENTBRIDGE.
  Object.assign(process.env, aws.env());
});

afterAll(async () => {
  process.env = saved;
  await aws.close();
});

function io(): ReplayIo & { err: () => string } {
  let err = '';
  return {
    stdout: { write: () => true },
    stderr: { write: (t: string) => (err += t) },
    live: false,
    clients: {
      s3: (settings) => createS3Client({ ...settings, forcePathStyle: true }),
      eventBridge: () => new EventBridgeClient({ endpoint: aws.endpoints.eventBridge.endpoint }),
      cloudFormation: () => new CloudFormationClient({}),
    },
    stop: new AbortController().signal,
    err: () => err,
  };
}

describe('pop3-poller replay --bucket (end to end, AWS stub)', () => {
  it('puts on the bus exactly the events the poll put, marked, and changes nothing in the bucket', async () => {
    const dir = tempDir('replay-aws-');
    const mailbox = await startScriptedMailbox(makeMessages(5, { batch: 'aws' }));
    const config = join(dir, 'poller.json');
    writeFileSync(
      config,
      JSON.stringify({
        accounts: [{ ...mailbox.account('support'), password: SCRIPTED_PASSWORD }],
        archive: { s3: { bucket: 'archive', prefix: 'mail/', endpoint: aws.url, forcePathStyle: true } },
        events: { eventBridge: { busName: 'mail-bus' } },
      }),
      { mode: 0o600 },
    );
    const quiet = jest.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      expect(await poll(['--config', config])).toBe(0);
    } finally {
      quiet.mockRestore();
    }
    const original = aws.events.entries('mail-bus').filter((e) => e.detailType === 'Message Archived');
    expect(original).toHaveLength(5);
    const keys = aws.s3.keys('archive');
    const before = keys.map((k) => aws.s3.object('archive', k)!.toString('base64'));
    const callsBefore = aws.calls().length;

    const c = io();
    const code = await replay(
      [
        '--bucket',
        'archive',
        '--prefix',
        'mail/',
        '--endpoint',
        aws.url,
        '--account',
        'support',
        '--event-bus',
        'replay-bus',
        '--state',
        join(dir, 'state.json'),
      ],
      c,
    );

    expect({ code, err: c.err() }).toEqual({
      code: 0,
      err: expect.stringMatching(/re-emitted 5 events of 5 messages/),
    });
    const replayed = aws.events.entries('replay-bus');
    const strip = (detail: string) => {
      const { replay: marker, ...rest } = JSON.parse(detail) as Record<string, unknown>;
      return { rest: JSON.stringify(rest), marker };
    };
    const key = (e: { detail: string }) => (JSON.parse(e.detail) as { key: string }).key;
    expect(replayed.map(key)).toEqual(original.map(key).sort());
    const byKey = new Map(original.map((e) => [key(e), e]));
    for (const event of replayed) {
      const first = byKey.get(key(event))!;
      expect({ source: event.source, detailType: event.detailType, time: event.time }).toEqual({
        source: first.source,
        detailType: first.detailType,
        time: first.time,
      });
      expect(strip(event.detail).rest).toBe(first.detail);
      expect(strip(event.detail).marker).toEqual({
        runId: expect.any(String),
        requestedAt: expect.any(String),
      });
    }
    // Reads only; the objects are as they were.
    const sent = new Set(
      aws
        .calls()
        .slice(callsBefore)
        .filter((call) => call.service === 'S3')
        .map((call) => call.operation),
    );
    expect(sent).toEqual(new Set(['ListObjectsV2', 'GetObject']));
    expect(aws.s3.keys('archive')).toEqual(keys);
    expect(keys.map((k) => aws.s3.object('archive', k)!.toString('base64'))).toEqual(before);
  }, 60_000);
});
