import { DECODER_PROPERTIES, LONG_LISTING, runsFor } from './decoder-properties';
import { checkProperty, fuzzSettings } from './settings';

/**
 * CI short form of the in-process fuzz suite (decoder-properties.ts): a few thousand mutated
 * server replies in seconds, with the fixed default seed. `npm run fuzz` runs the long form.
 */

const settings = fuzzSettings({ runs: 4000, sessions: 0 });

describe('fuzz: reply decoder and parsers (short form)', () => {
  it.each(DECODER_PROPERTIES.map((p) => [p.name, p] as const))('%s', async (_name, property) => {
    await checkProperty(property.name, property.property, settings.seed, runsFor(property, settings.runs));
  });

  it(LONG_LISTING.name, async () => {
    await checkProperty(LONG_LISTING.name, LONG_LISTING.property, settings.seed, 2);
  });
});
