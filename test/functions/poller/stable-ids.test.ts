import { createHash } from 'node:crypto';
import { archiveKey } from '../../../functions/poller/archive-key';
import { stableEventId } from '../../../functions/poller/events';
import { pollAccount } from '../../../functions/poller/poll-account';
import { MemoryArchive, MemoryEventSink, StaticCredentials } from '../../support/memory-ports';
import { archivedEvents } from '../../support/poll-fixtures';
import { SCRIPTED_PASSWORD, startScriptedMailbox } from '../../support/scripted-mailbox';

/**
 * Archive keys and event ids, pinned. A message fetched again (after an interrupted run, or by a
 * newer version of the poller) must land on the same archive object and carry the same event id,
 * or consumers see a duplicate and the archive holds a copy. These values were computed once and
 * written down: a change in how either is derived fails here, whatever the implementation says.
 *
 *   key      = `<account>/<sha256 of the bytes, hex>.eml`
 *   event id = UUIDv8 shape of sha256(`<account>\0<UIDL or "">\0<sha256 hex>`)
 */

const VECTORS = [
  {
    account: 'support',
    uidl: 'UID-0001',
    bytes: Buffer.from('From: Alice <alice@example.com>\r\nSubject: pinned\r\n\r\nHello\r\n', 'latin1'),
    sha256: '09b0038fccfc949ed6af79f61a44b9bf41d5d9f06aa54d0233af7bb9b649c49b',
    key: 'support/09b0038fccfc949ed6af79f61a44b9bf41d5d9f06aa54d0233af7bb9b649c49b.eml',
    eventId: 'ae582939-3d6b-899b-88c8-92271030bbf0',
  },
  {
    // 8-bit, NUL and a bare dot line's bytes: ids are over the octets, never over decoded text.
    account: 'sales.eu',
    uidl: '',
    bytes: Buffer.from('U3ViamVjdDog6Q0KDQoA/y4NCg==', 'base64'),
    sha256: 'dba8dcf74c7dbf8d447d231da604b698283d9199f8a7da8eeb60c09dcca42c1f',
    key: 'sales.eu/dba8dcf74c7dbf8d447d231da604b698283d9199f8a7da8eeb60c09dcca42c1f.eml',
    eventId: '6072aa40-15cb-82fe-9441-fe36e584ef37',
  },
] as const;

describe('stable ids', () => {
  it.each(VECTORS)('$account / "$uidl": archive key and event id as written down', (vector) => {
    expect(createHash('sha256').update(vector.bytes).digest('hex')).toBe(vector.sha256);
    expect(archiveKey(vector.account, vector.sha256)).toBe(vector.key);
    expect(stableEventId(vector.account, vector.uidl, vector.sha256)).toBe(vector.eventId);
  });

  it('a run summary id is pinned too', () => {
    expect(stableEventId('summary', 'run-1', 'support')).toBe('98fa45f7-3c73-891e-aa5d-5bf1ac4c2120');
  });

  it('a poll archives and announces under exactly the pinned key and id', async () => {
    const [vector] = VECTORS;
    const mailbox = await startScriptedMailbox();
    mailbox.add(vector.bytes, vector.uidl);
    const archive = new MemoryArchive();
    const events = new MemoryEventSink();

    const result = await pollAccount(
      mailbox.account(vector.account),
      {
        credentials: new StaticCredentials({ [vector.account]: { password: SCRIPTED_PASSWORD } }),
        archive,
        events,
      },
      { runId: 'pinned' },
    );

    expect(result).toMatchObject({ status: 'ok', archived: 1, deleted: 1 });
    expect([...archive.objects.keys()]).toEqual([vector.key]);
    expect(archive.objects.get(vector.key)).toEqual(vector.bytes);
    const [event] = archivedEvents(events);
    expect(event).toMatchObject({ id: vector.eventId, detail: { sha256: vector.sha256, uidl: vector.uidl } });
  });
});
