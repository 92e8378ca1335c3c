import { parseState } from '../../../functions/replay/checkpoint';

describe('replay state file', () => {
  const good = {
    version: 1,
    runId: '0b6f',
    requestedAt: '2026-12-07T14:00:00.000Z',
    args: ['--archive', '/srv/archive', '--events-file', '/srv/out.jsonl'],
    checkpoint: 'support/ab.eml',
    emitted: 12,
    complete: false,
    updatedAt: '2026-12-07T14:01:00.000Z',
  };

  it('reads back what the CLI writes', () => {
    expect(parseState(JSON.stringify(good), 'state.json')).toEqual(good);
    expect(parseState(JSON.stringify({ ...good, checkpoint: null }), 'state.json').checkpoint).toBeNull();
  });

  it.each([
    ['not JSON', '{"version":1', /state file s.json is not JSON/],
    [
      'another version',
      JSON.stringify({ ...good, version: 2 }),
      /is not a replay state file \(unknown version\)/,
    ],
    ['no runId', JSON.stringify({ ...good, runId: '' }), /\(runId\)/],
    ['a bad requestedAt', JSON.stringify({ ...good, requestedAt: 'soon' }), /\(requestedAt\)/],
    ['args not strings', JSON.stringify({ ...good, args: [1] }), /\(args\)/],
    ['a bad checkpoint', JSON.stringify({ ...good, checkpoint: 3 }), /\(checkpoint\)/],
    ['an array', '[]', /unknown version/],
  ])('refuses %s with ESTATE, naming the file', (_what, text, message) => {
    expect(() => parseState(text, 's.json')).toThrow(
      expect.objectContaining({ code: 'ESTATE', message: expect.stringMatching(message) }),
    );
  });
});
