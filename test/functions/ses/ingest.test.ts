import { createHash } from 'node:crypto';
import { ingestSesObject, type IngestDeps, type IngestSettings } from '../../../functions/ses/ingest';
import { SesInboundError } from '../../../functions/ses/errors';
import { MemoryArchive, MemoryEventSink } from '../../support/memory-ports';
import { ManualClock } from '../../support/poll-fixtures';
import { sesObject, type SesFixture } from '../../support/ses/fixtures';

const REF = { bucket: 'inbound', key: 'ses/id1' };
const SETTINGS: IngestSettings = {
  eventSource: 'ses',
  rules: { recipients: new Map([['support@example.com', 'support']]), unmapped: 'skip', domains: new Set() },
};

function world(name: SesFixture) {
  const bytes = sesObject(name);
  const archive = new MemoryArchive();
  const events = new MemoryEventSink();
  const clock = new ManualClock('2026-12-07T13:00:00.000Z');
  const reads: number[] = [];
  const deps: IngestDeps = {
    read: async (_ref, maxBytes) => {
      reads.push(maxBytes);
      return bytes;
    },
    archive,
    events,
    clock,
  };
  return { bytes, archive, events, clock, reads, deps };
}

async function failure(promise: Promise<unknown>): Promise<SesInboundError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof SesInboundError) return error;
    throw error;
  }
  throw new Error('expected a SesInboundError');
}

describe('Function: ingestSesObject', () => {
  it('archives under the account, with the clock as archive time, and publishes the event built from what was stored', async () => {
    const { bytes, archive, events, deps } = world('singleRecipient');
    const sha = createHash('sha256').update(bytes).digest('hex');

    const result = await ingestSesObject(REF, deps, SETTINGS);

    expect([...archive.objects.keys()]).toEqual([`support/${sha}.eml`]);
    expect(archive.objects.get(`support/${sha}.eml`)!.equals(bytes)).toBe(true);
    expect(result).toMatchObject({
      sha256: sha,
      size: bytes.length,
      archived: [{ accountId: 'support', alreadyExisted: false }],
    });
    expect(events.events).toEqual(result.events);
    expect(events.events[0]).toMatchObject({
      source: 'ses',
      time: '2026-12-07T13:00:00.000Z',
      detail: { location: `memory://support/${sha}.eml`, uidl: null, archivedAt: '2026-12-07T13:00:00.000Z' },
    });
  });

  it('again later: the same event, its time the first archive time, not the clock', async () => {
    const { deps, clock, events } = world('singleRecipient');
    await ingestSesObject(REF, deps, SETTINGS);
    clock.advanceDays(1);

    const again = await ingestSesObject(REF, deps, SETTINGS);

    expect(again.archived[0]!.alreadyExisted).toBe(true);
    expect(events.events[1]).toEqual(events.events[0]);
  });

  it('refuses an object over the limit by its notified size without reading it', async () => {
    const { deps, reads } = world('singleRecipient');
    const error = await failure(
      ingestSesObject({ ...REF, size: 2000 }, deps, {
        ...SETTINGS,
        limits: { maxMessageBytes: 1000, maxHeaderBytes: 500 },
      }),
    );
    expect([error.code, error.retryable, reads]).toEqual(['EINVALID', false, []]);
    expect(error.message).toBe(
      's3://inbound/ses/id1 is not a valid message: the object is 2000 bytes, over the 1000-byte limit',
    );
  });

  it('names the recipients it found when none maps to an account, and archives nothing', async () => {
    const { deps, archive, events } = world('multiRecipient');
    const error = await failure(
      ingestSesObject(REF, deps, {
        ...SETTINGS,
        rules: { ...SETTINGS.rules, domains: new Set(['example.com']), recipients: new Map() },
      }),
    );
    expect(error.code).toBe('EUNROUTABLE');
    expect(error.message).toBe(
      's3://inbound/ses/id1: no account for its recipient(s) support@example.com, sales@example.com',
    );
    expect(archive.puts).toEqual([]);
    expect(events.events).toEqual([]);
  });

  it('an event not published is EEVENTS (retryable), after the archive write', async () => {
    const { deps, archive, events } = world('singleRecipient');
    events.failWhen = () => true;
    const error = await failure(ingestSesObject(REF, deps, SETTINGS));
    expect([error.code, error.retryable]).toEqual(['EEVENTS', true]);
    expect(archive.puts).toHaveLength(1);
  });

  it('the archive reporting other bytes is EINTEGRITY, before any event', async () => {
    const { deps, archive, events } = world('singleRecipient');
    archive.corruptWhen = () => true;
    const error = await failure(ingestSesObject(REF, deps, SETTINGS));
    expect(error.code).toBe('EINTEGRITY');
    expect(events.events).toEqual([]);
  });
});
