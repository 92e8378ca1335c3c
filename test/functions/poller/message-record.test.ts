import { createHash } from 'node:crypto';
import { MessageRecord } from '../../../functions/poller/message-record';
import { Spool } from '../../../functions/poller/spool';

async function record(
  bytes = Buffer.from('Subject: x\r\n\r\nbody\r\n'),
  expired = false,
): Promise<MessageRecord> {
  const spool = await Spool.fromStream(
    (async function* () {
      yield bytes;
    })(),
    { memoryLimitBytes: 1024 },
  );
  return new MessageRecord(
    { messageNumber: 3, uidl: 'u3', size: bytes.length, ...(expired ? { expired: true as const } : {}) },
    spool,
    'acct',
  );
}

const stored = (alreadyExisted: boolean) => ({
  location: 'memory://k',
  sha256: 'x',
  size: 1,
  archivedAt: new Date(0),
  alreadyExisted,
});

describe('Class: MessageRecord', () => {
  it('derives its archive key from the bytes and starts as retrieved', async () => {
    const r = await record();
    expect(r.state).toBe('retrieved');
    expect(r.key).toBe(`acct/${r.sha256}.eml`);
    expect(r.sha256).toBe(createHash('sha256').update('Subject: x\r\n\r\nbody\r\n').digest('hex'));
    expect([r.messageNumber, r.uidl, r.size]).toEqual([3, 'u3', 20]);
  });

  it('moves retrieved → stored → announced → deletable, keeping where it was stored', async () => {
    const r = await record();
    r.stored(stored(true));
    expect([r.state, r.location, r.alreadyArchived]).toEqual(['stored', 'memory://k', true]);
    r.announced();
    expect(r.state).toBe('announced');
    r.deletable();
    expect(r.state).toBe('deletable');
  });

  it('refuses to skip a step: no announcement before storage, no DELE before announcement', async () => {
    const r = await record();
    expect(() => r.announced()).toThrow('cannot become announced: it is retrieved, not stored');
    expect(() => r.deletable()).toThrow('cannot become deletable: it is retrieved, not announced');
    r.stored(stored(false));
    expect(() => r.deletable()).toThrow('it is stored, not announced');
    expect(() => r.stored(stored(false))).toThrow('it is stored, not retrieved');
    expect(r.state).toBe('stored');
  });

  it('counts as announced earlier only when the archive already held exactly its bytes', async () => {
    const fresh = await record(undefined, true);
    fresh.stored(stored(false));
    expect(() => fresh.announcedEarlier()).toThrow('was not archived before');
    expect(fresh.state).toBe('stored');

    const known = await record(undefined, true);
    known.stored(stored(true));
    known.announcedEarlier();
    known.deletable();
    expect(known.state).toBe('deletable');
  });
});
