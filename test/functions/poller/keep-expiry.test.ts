import { pollAccount, type AccountResult } from '../../../functions/poller/poll-account';
import {
  MemoryArchive,
  MemoryEventSink,
  MemorySeenStore,
  StaticCredentials,
} from '../../support/memory-ports';
import { archivedEvents, makeMessage, ManualClock } from '../../support/poll-fixtures';
import { SCRIPTED_PASSWORD, startScriptedMailbox } from '../../support/scripted-mailbox';

/**
 * Keep mode with deleteAfterDays at a server that gives a UIDL again once its message is gone
 * (RFC 1939 §7 allows it). An expired UIDL must not get the message now listed under it deleted
 * unless that message is the one archived. (Dovecot never reuses a UIDL, so the mailbox is
 * scripted.)
 */

async function world() {
  const mailbox = await startScriptedMailbox();
  const clock = new ManualClock('2025-03-01T00:00:00Z');
  const archive = new MemoryArchive();
  const events = new MemoryEventSink();
  const seen = new MemorySeenStore();
  const run = (): Promise<AccountResult> =>
    pollAccount(
      mailbox.account('keep', { mode: 'keep', deleteAfterDays: 7 }),
      {
        credentials: new StaticCredentials({ keep: { password: SCRIPTED_PASSWORD } }),
        archive,
        events,
        seen,
        clock,
      },
      { runId: 'run' },
    );
  return { mailbox, clock, archive, events, run };
}

describe('keep mode, deleteAfterDays', () => {
  it('deletes an expired message only after finding its very bytes in the archive', async () => {
    const { mailbox, clock, archive, run } = await world();
    const a = makeMessage(1, { batch: 'expiry' });
    mailbox.add(a, 'UID-A');
    expect(await run()).toMatchObject({ archived: 1, deleted: 0 });

    clock.advanceDays(7);
    const result = await run();

    expect(result).toMatchObject({ status: 'ok', listed: 0, archived: 0, deleted: 1 });
    expect(mailbox.live.size).toBe(0);
    expect(archive.contents()).toEqual([a]);
  });

  it('a reused UIDL: the other message listed under it is archived, announced and kept', async () => {
    const { mailbox, clock, archive, events, run } = await world();
    const a = makeMessage(1, { batch: 'reuse' });
    const idA = mailbox.add(a, 'UID-1');
    expect(await run()).toMatchObject({ archived: 1, deleted: 0 });

    // Another client deletes A; later the server gives its UIDL to a new message B.
    mailbox.live.delete(idA);
    const b = makeMessage(2, { batch: 'reuse' });
    mailbox.add(b, 'UID-1');
    clock.advanceDays(8);
    const second = await run();

    expect(second).toMatchObject({ status: 'ok', archived: 1, deleted: 0 });
    expect([...mailbox.live.values()].map((m) => m.bytes)).toEqual([b]);
    expect(archive.contents()).toEqual([a, b].sort(Buffer.compare));
    expect(archivedEvents(events).map((e) => e.detail.uidl)).toEqual(['UID-1', 'UID-1']);

    // B is remembered from now on: it expires a week after it was archived, not before.
    clock.advanceDays(6);
    expect(await run()).toMatchObject({ archived: 0, deleted: 0 });
    clock.advanceDays(1);
    expect(await run()).toMatchObject({ archived: 0, deleted: 1 });
    expect(mailbox.live.size).toBe(0);
  });
});
