import { DELE_BATCH, Deleter } from '../../../functions/poller/deleter';
import { MessageRecord } from '../../../functions/poller/message-record';
import { Spool } from '../../../functions/poller/spool';
import { MemoryMailbox } from '../../support/memory-mailbox';

const bytes = (n: number) => Buffer.from(`Subject: ${n}\r\n\r\nbody ${n}\r\n`);

async function session(count: number) {
  const mailbox = new MemoryMailbox(Array.from({ length: count }, (_, i) => bytes(i + 1)));
  const { session } = await mailbox.open();
  const refused: unknown[] = [];
  const deleter = new Deleter(session, (error) => refused.push(error));
  return { mailbox, session, deleter, refused };
}

async function record(n: number, state: 'retrieved' | 'stored' | 'announced'): Promise<MessageRecord> {
  const spool = await Spool.fromStream(
    (async function* () {
      yield bytes(n);
    })(),
    { memoryLimitBytes: 1024 },
  );
  const r = new MessageRecord({ messageNumber: n, uidl: `uid-${n}`, size: spool.size }, spool, 'acct');
  if (state === 'retrieved') return r;
  r.stored({
    location: 'memory://x',
    sha256: spool.sha256,
    size: spool.size,
    alreadyExisted: false,
    archivedAt: new Date(0),
  });
  if (state === 'announced') r.announced();
  return r;
}

describe('Class: Deleter', () => {
  it('accepts only a message whose record says announced; anything else sends nothing', async () => {
    const { mailbox, deleter } = await session(2);
    await expect(async () => deleter.accept(await record(1, 'retrieved'))).rejects.toThrow('not announced');
    await expect(async () => deleter.accept(await record(2, 'stored'))).rejects.toThrow('not announced');

    expect(await deleter.commit()).toBe(0);
    expect(mailbox.log).toEqual(['QUIT']);
    expect(mailbox.live.size).toBe(2);
  });

  it(`sends DELEs in batches of ${DELE_BATCH}, and the rest when flushed`, async () => {
    const { mailbox, deleter } = await session(DELE_BATCH + 3);
    for (let n = 1; n < DELE_BATCH; n++) deleter.accept(await record(n, 'announced'));
    expect(mailbox.log).toEqual([]);

    deleter.accept(await record(DELE_BATCH, 'announced'));
    expect(mailbox.log).toHaveLength(DELE_BATCH);
    expect(mailbox.log[0]).toBe('DELE 1');

    deleter.accept(await record(DELE_BATCH + 1, 'announced'));
    expect(mailbox.log).toHaveLength(DELE_BATCH);
    deleter.flush();
    expect(mailbox.log.at(-1)).toBe(`DELE ${DELE_BATCH + 1}`);
  });

  it('commits with QUIT right behind the DELEs and counts only those the server accepted', async () => {
    const { mailbox, deleter, refused } = await session(4);
    mailbox.failDele = (n) => (n === 2 ? new Error('-ERR no such message') : undefined);
    for (const n of [1, 2, 3]) deleter.accept(await record(n, 'announced'));

    expect(await deleter.commit()).toBe(2);
    expect(mailbox.log).toEqual(['DELE 1', 'DELE 2', 'DELE 3', 'QUIT']);
    expect([...mailbox.live.keys()]).toEqual([2, 4]);
    expect(refused).toEqual([new Error('-ERR no such message')]);
  });

  it('rejects the commit when QUIT fails, so that nothing is counted as deleted', async () => {
    const { mailbox, deleter } = await session(1);
    mailbox.failQuit = new Error('connection lost');
    deleter.accept(await record(1, 'announced'));

    await expect(deleter.commit()).rejects.toThrow('connection lost');
    expect(mailbox.log).toEqual(['DELE 1', 'QUIT']);
    expect(mailbox.live.size).toBe(1);
  });

  it('abandons without QUIT after the DELE replies: the server removes nothing', async () => {
    const { mailbox, session: s, deleter } = await session(2);
    deleter.accept(await record(1, 'announced'));

    await deleter.abandon();

    expect(mailbox.log).toEqual(['DELE 1', 'ABORT']);
    expect(s.isOpen).toBe(false);
    expect(mailbox.live.size).toBe(2);
  });

  it('sends nothing on a connection already cut (the hard stop): the messages stay, nothing is reported', async () => {
    const { mailbox, session: s, deleter, refused } = await session(DELE_BATCH + 1);
    s.abort();
    for (let n = 1; n <= DELE_BATCH + 1; n++) deleter.accept(await record(n, 'announced'));
    deleter.flush();

    expect(mailbox.log).toEqual(['ABORT']);
    expect(refused).toEqual([]);
    expect(mailbox.live.size).toBe(DELE_BATCH + 1);
  });
});
