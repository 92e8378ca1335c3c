import { inWindow, parseHeaderFilter, parseTime, prefixWithin } from '../../../functions/replay/range';

describe('replay range', () => {
  describe('parseTime (--since, --until)', () => {
    it.each([
      ['2026-12-01', '2026-12-01T00:00:00.000Z'],
      ['2026-12-01T08:30', '2026-12-01T08:30:00.000Z'],
      ['2026-12-01T08:30:15Z', '2026-12-01T08:30:15.000Z'],
      ['2026-12-01T08:30:15.250', '2026-12-01T08:30:15.250Z'],
      ['2026-12-01T09:30+01:00', '2026-12-01T08:30:00.000Z'],
      ['2026-12-01T03:30-0500', '2026-12-01T08:30:00.000Z'],
      ['2026-12-01 08:30z', '2026-12-01T08:30:00.000Z'],
    ])('%s is %s (UTC unless an offset is given)', (text, iso) => {
      expect(parseTime('--since', text).toISOString()).toBe(iso);
    });

    it.each([
      'yesterday',
      '2026-02-30',
      '2026-13-01',
      '2026-12-01T25:00',
      '1733000000',
      '',
      '2026-12-01T08:30+1',
    ])('refuses %j with the option named and an example', (text) => {
      expect(() => parseTime('--until', text)).toThrow(
        expect.objectContaining({
          code: 'EUSAGE',
          message: expect.stringMatching(/^--until expects a date \(2026-12-01\)/),
        }),
      );
    });
  });

  it('the window includes since and excludes until', () => {
    const range = {
      accounts: [],
      headers: [],
      since: new Date('2026-12-01T00:00:00.000Z'),
      until: new Date('2026-12-02T00:00:00.000Z'),
    };
    expect(inWindow(range, new Date('2026-11-30T23:59:59.999Z'))).toBe(false);
    expect(inWindow(range, new Date('2026-12-01T00:00:00.000Z'))).toBe(true);
    expect(inWindow(range, new Date('2026-12-01T23:59:59.999Z'))).toBe(true);
    expect(inWindow(range, new Date('2026-12-02T00:00:00.000Z'))).toBe(false);
    expect(inWindow({ accounts: [], headers: [] }, new Date(0))).toBe(true);
  });

  it('a key prefix applies within an account’s folder, covers it, or excludes it', () => {
    const range = (keyPrefix: string) => ({ accounts: [], headers: [], keyPrefix });
    expect(prefixWithin(range('support/3f'), 'support')).toBe('support/3f');
    expect(prefixWithin(range('sup'), 'support')).toBeUndefined();
    expect(prefixWithin(range('support/'), 'support')).toBe('support/');
    expect(prefixWithin(range('sales/'), 'support')).toBeNull();
    expect(prefixWithin(range('support/3f'), 'support.eu')).toBeNull();
    expect(prefixWithin({ accounts: [], headers: [] }, 'support')).toBeUndefined();
  });

  it('--header is "Name: text", name and text compared in lower case', () => {
    expect(parseHeaderFilter('Subject: Invoice 42')).toEqual({ name: 'subject', text: 'invoice 42' });
    expect(parseHeaderFilter('X-Tag:urgent: yes')).toEqual({ name: 'x-tag', text: 'urgent: yes' });
    for (const bad of ['Subject', 'Subject:', ': invoice', 'Sub ject: x']) {
      expect(() => parseHeaderFilter(bad)).toThrow(/--header expects "Name: text"/);
    }
  });
});
