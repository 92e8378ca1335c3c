import { PollError } from '../../../functions/poller/errors';
import { EventBatcher } from '../../../functions/poller/event-batcher';
import type { PollEvent } from '../../../functions/poller/events';
import type { EventSink, PublishOutcome } from '../../../functions/poller/ports';

const event = (id: string) => ({ id }) as unknown as PollEvent;

/** A sink that answers every publish with the given outcome. */
function failing(outcome: (ids: string[]) => PublishOutcome): EventSink {
  return { publish: async (events) => outcome(events.map((e) => e.id)) };
}

async function rejection(sink: EventSink): Promise<PollError> {
  const error = await new EventBatcher(sink).publish(event('e-1')).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(PollError);
  return error as PollError;
}

describe('Class: EventBatcher, an event that was not published', () => {
  it('is EEVENTS, retryable unless the sink says otherwise', async () => {
    await expect(rejection(failing((ids) => ({ failedIds: ids })))).resolves.toMatchObject({
      code: 'EEVENTS',
      message: 'event e-1 was not published',
      retryable: true,
    });
  });

  it('keeps the sink’s verdict that no retry can help (an events file the OS refuses)', async () => {
    await expect(rejection(failing((ids) => ({ failedIds: ids, retryable: false })))).resolves.toMatchObject({
      code: 'EEVENTS',
      retryable: false,
    });
  });

  it('keeps the retryable flag of an error the sink throws, and defaults to retryable', async () => {
    const refused = Object.assign(new Error('events file /x: EACCES, permission denied'), {
      retryable: false,
    });
    await expect(
      rejection({
        publish: () => Promise.reject(refused),
      }),
    ).resolves.toMatchObject({ code: 'EEVENTS', retryable: false, cause: refused });
    await expect(rejection({ publish: () => Promise.reject(new Error('down')) })).resolves.toMatchObject({
      code: 'EEVENTS',
      message: 'publishing events failed: down',
      retryable: true,
    });
  });

  it('resolves the events that were published beside one that was not', async () => {
    const batcher = new EventBatcher({ publish: async () => ({ failedIds: ['e-2'], retryable: false }) });
    const [first, second] = await Promise.allSettled([
      batcher.publish(event('e-1')),
      batcher.publish(event('e-2')),
    ]);
    expect(first.status).toBe('fulfilled');
    expect(second).toMatchObject({ status: 'rejected', reason: { code: 'EEVENTS', retryable: false } });
  });
});
