import { messageArchivedEvent } from '../../../functions/poller/archived-event';
import type { MessageMetadata } from '../../../functions/poller/events';
import { pollAccount } from '../../../functions/poller/poll-account';
import { MemoryArchive, MemoryEventSink, StaticCredentials } from '../../support/memory-ports';
import { archivedEvents } from '../../support/poll-fixtures';
import { SCRIPTED_PASSWORD, startScriptedMailbox } from '../../support/scripted-mailbox';

const METADATA: MessageMetadata = {
  metadata: 'complete',
  subject: 'pinned',
  from: { name: 'Alice', address: 'alice@example.com' },
  to: [],
  cc: [],
  date: null,
  messageId: null,
  attachments: [],
};

describe('messageArchivedEvent', () => {
  it('builds the event from what the archive records: pinned id, archive time as the event time', () => {
    const event = messageArchivedEvent(
      {
        accountId: 'support',
        uidl: 'UID-0001',
        sha256: '09b0038fccfc949ed6af79f61a44b9bf41d5d9f06aa54d0233af7bb9b649c49b',
        size: 62,
        location: 's3://archive/support/09b0038fccfc949ed6af79f61a44b9bf41d5d9f06aa54d0233af7bb9b649c49b.eml',
        key: 'support/09b0038fccfc949ed6af79f61a44b9bf41d5d9f06aa54d0233af7bb9b649c49b.eml',
        archivedAt: new Date('2026-12-07T10:00:00.123Z'),
        source: 'ses',
      },
      METADATA,
    );

    expect(event).toEqual({
      // The pinned vector of stable-ids.test.ts.
      id: 'ae582939-3d6b-899b-88c8-92271030bbf0',
      source: 'ses',
      detailType: 'Message Archived',
      time: '2026-12-07T10:00:00.123Z',
      detail: {
        eventId: 'ae582939-3d6b-899b-88c8-92271030bbf0',
        accountId: 'support',
        uidl: 'UID-0001',
        sha256: '09b0038fccfc949ed6af79f61a44b9bf41d5d9f06aa54d0233af7bb9b649c49b',
        size: 62,
        location: 's3://archive/support/09b0038fccfc949ed6af79f61a44b9bf41d5d9f06aa54d0233af7bb9b649c49b.eml',
        key: 'support/09b0038fccfc949ed6af79f61a44b9bf41d5d9f06aa54d0233af7bb9b649c49b.eml',
        ...METADATA,
        archivedAt: '2026-12-07T10:00:00.123Z',
      },
    });
  });

  it('a message fetched again keeps the archive time of its first archiving, so its event is the same', async () => {
    const bytes = Buffer.from('Subject: again\r\n\r\nbody\r\n');
    const archive = new MemoryArchive();
    const sent: MemoryEventSink[] = [];
    for (const at of ['2026-12-07T10:00:00.000Z', '2026-12-07T11:30:00.000Z']) {
      // The same message on the server twice (the first run's DELE never took effect).
      const mailbox = await startScriptedMailbox();
      mailbox.add(bytes, 'UID-1');
      const events = new MemoryEventSink();
      await pollAccount(
        mailbox.account('support'),
        {
          credentials: new StaticCredentials({ support: { password: SCRIPTED_PASSWORD } }),
          archive,
          events,
          clock: { now: () => new Date(at) },
        },
        { runId: at },
      );
      sent.push(events);
    }

    const [first, second] = sent.map((events) => archivedEvents(events));
    expect(first).toHaveLength(1);
    expect(second).toEqual(first);
    expect(first![0]!.time).toBe('2026-12-07T10:00:00.000Z');
  });
});
