import {
  sendWithEntryRetries,
  type EntryFailure,
  type RoundResult,
} from '../../../functions/adapters/entry-retry';

const transient: EntryFailure = { code: 'InternalError', message: 'try again', permanent: false };
const permanent: EntryFailure = { code: 'InvalidParameterValue', message: 'bad entry', permanent: true };

/** A send that fails entries by a per-round table, recording what each round sent. */
function scripted(rounds: Array<Record<string, EntryFailure>>) {
  const sent: string[][] = [];
  const send = async (entries: readonly string[]): Promise<RoundResult<string>> => {
    sent.push([...entries]);
    const table = rounds[sent.length - 1] ?? {};
    return new Map(entries.filter((e) => table[e]).map((e) => [e, table[e]!]));
  };
  return { send, sent };
}

const noSleep = () => {
  const delays: number[] = [];
  return { delays, sleep: async (ms: number) => void delays.push(ms) };
};

describe('sendWithEntryRetries', () => {
  it('sends once and returns nothing when every entry succeeds', async () => {
    const { send, sent } = scripted([]);
    const { sleep, delays } = noSleep();
    await expect(sendWithEntryRetries(['a', 'b'], send, { sleep })).resolves.toEqual([]);
    expect(sent).toEqual([['a', 'b']]);
    expect(delays).toEqual([]);
  });

  it('re-sends only the entries that failed transiently inside a successful response', async () => {
    const { send, sent } = scripted([{ b: transient, c: transient }, {}]);
    const { sleep, delays } = noSleep();
    const onRetry = jest.fn();
    await expect(sendWithEntryRetries(['a', 'b', 'c'], send, { sleep, onRetry })).resolves.toEqual([]);
    expect(sent).toEqual([
      ['a', 'b', 'c'],
      ['b', 'c'],
    ]);
    expect(delays).toHaveLength(1);
    expect(onRetry).toHaveBeenCalledWith(1, 2, transient);
  });

  it('never re-sends a permanent failure, and reports it', async () => {
    const { send, sent } = scripted([{ a: permanent, b: transient }, {}]);
    const { sleep } = noSleep();
    const failed = await sendWithEntryRetries(['a', 'b'], send, { sleep });
    expect(failed).toEqual([{ entry: 'a', failure: permanent }]);
    expect(sent).toEqual([['a', 'b'], ['b']]);
  });

  it('gives up after maxRounds sends (3 by default), with exponential backoff between rounds', async () => {
    const { send, sent } = scripted([{ a: transient }, { a: transient }, { a: transient }, {}]);
    const { sleep, delays } = noSleep();
    const failed = await sendWithEntryRetries(['a'], send, { sleep, baseDelayMs: 100 });
    expect(failed).toEqual([{ entry: 'a', failure: transient }]);
    expect(sent).toHaveLength(3);
    expect(delays).toHaveLength(2);
    // Jittered between half and all of 100, then of 200.
    expect(delays[0]).toBeGreaterThanOrEqual(50);
    expect(delays[0]).toBeLessThanOrEqual(100);
    expect(delays[1]).toBeGreaterThanOrEqual(100);
    expect(delays[1]).toBeLessThanOrEqual(200);
  });

  it('honours maxRounds: 1 (no re-sends)', async () => {
    const { send, sent } = scripted([{ a: transient }]);
    const { sleep } = noSleep();
    const failed = await sendWithEntryRetries(['a', 'b'], send, { sleep, maxRounds: 1 });
    expect(failed).toEqual([{ entry: 'a', failure: transient }]);
    expect(sent).toHaveLength(1);
  });

  it('does not retry a request that failed as a whole (the SDK did): every pending entry fails at once', async () => {
    const error = Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' });
    const send = jest.fn().mockRejectedValue(error);
    const { sleep, delays } = noSleep();
    const failed = await sendWithEntryRetries(['a', 'b'], send, { sleep });
    expect(send).toHaveBeenCalledTimes(1);
    expect(delays).toEqual([]);
    expect(failed).toEqual([
      {
        entry: 'a',
        failure: {
          code: 'ThrottlingException',
          message: 'ThrottlingException: Rate exceeded',
          permanent: false,
        },
      },
      {
        entry: 'b',
        failure: {
          code: 'ThrottlingException',
          message: 'ThrottlingException: Rate exceeded',
          permanent: false,
        },
      },
    ]);
  });

  it('keeps earlier permanent failures when a later round throws', async () => {
    let round = 0;
    const send = async (entries: readonly string[]): Promise<RoundResult<string>> => {
      round++;
      if (round === 1)
        return new Map([
          ['a', permanent],
          ['b', transient],
        ]);
      void entries;
      throw Object.assign(new Error('down'), { name: 'ServiceUnavailable' });
    };
    const { sleep } = noSleep();
    const failed = await sendWithEntryRetries(['a', 'b', 'c'], send, { sleep });
    expect(failed.map((f) => [f.entry, f.failure.code])).toEqual([
      ['a', 'InvalidParameterValue'],
      ['b', 'ServiceUnavailable'],
    ]);
  });

  it('sends nothing for no entries', async () => {
    const send = jest.fn();
    await expect(sendWithEntryRetries([], send)).resolves.toEqual([]);
    expect(send).not.toHaveBeenCalled();
  });
});
