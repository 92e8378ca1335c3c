import {
  accountFor,
  accountsOf,
  findRecipients,
  type RecipientRules,
} from '../../../functions/ses/recipients';
import { inspectMessage, type HeaderField } from '../../../functions/ses/ses-message';
import { sesObject, type SesFixture } from '../../support/ses/fixtures';

function rules(overrides: Partial<RecipientRules> = {}): RecipientRules {
  return { recipients: new Map(), unmapped: 'address', domains: new Set(), ...overrides };
}

function fieldsOf(name: SesFixture): readonly HeaderField[] {
  const inspection = inspectMessage(sesObject(name));
  if (!inspection.valid) throw new Error(inspection.reason);
  return inspection.fields;
}

function headers(text: string): readonly HeaderField[] {
  const inspection = inspectMessage(Buffer.from(text.replace(/\n/g, '\r\n')));
  if (!inspection.valid) throw new Error(inspection.reason);
  return inspection.fields;
}

describe('Module: ses/recipients', () => {
  describe('accountFor', () => {
    const mapped = rules({
      recipients: new Map([
        ['support@example.com', 'support'],
        ['support+vip@example.com', 'vip'],
        ['@example.org', 'org-catchall'],
      ]),
    });

    it.each([
      ['support@example.com', 'support'],
      ['Support@EXAMPLE.com', 'support'],
      ['support+billing@example.com', 'support'],
      ['support+vip@example.com', 'vip'],
      ['anyone@example.org', 'org-catchall'],
      ['anyone+x@Example.ORG', 'org-catchall'],
    ])('maps %s to %s (address, then without +detail, then @domain)', (address, account) => {
      expect(accountFor(address, mapped)).toBe(account);
    });

    it.each([
      ['sales@example.com', 'sales_at_example.com'],
      ['Sales+Q4@Example.com', 'sales_at_example.com'],
      ['first.last@sub.example.com', 'first.last_at_sub.example.com'],
    ])('names an unmapped %s after the address: %s', (address, account) => {
      expect(accountFor(address, mapped)).toBe(account);
    });

    it.each([
      ['a local part with characters an account id cannot hold', "o'brien@example.com"],
      ['an address too long for an account id', `${'x'.repeat(60)}@example.com`],
      ['no domain', 'support@'],
      ['no local part', '@example.com'],
    ])('maps nothing for %s', (_why, address) => {
      expect(accountFor(address, mapped)).toBeUndefined();
    });

    it('with unmapped "skip", maps only what the rules name', () => {
      const skip = rules({ recipients: new Map([['@example.org', 'org']]), unmapped: 'skip' });
      expect(accountFor('sales@example.com', skip)).toBeUndefined();
      expect(accountFor('x@example.org', skip)).toBe('org');
    });
  });

  describe('findRecipients', () => {
    it("takes SES's envelope recipient, whatever its domain (SES accepted it)", () => {
      const found = findRecipients(fieldsOf('singleRecipient'), rules());
      expect(found).toEqual([
        { address: 'support@example.com', from: 'envelope', accountId: 'support_at_example.com' },
      ]);
    });

    it('a Bcc recipient is found when SES names it: the To field is not read then', () => {
      const fields = headers(
        'Received: from x by inbound-smtp.eu-west-1.amazonaws.com with SMTP id a\n for audit@example.com;\n Mon, 7 Dec 2026\nTo: support@example.com\n\n',
      );
      const found = findRecipients(fields, rules({ domains: new Set(['example.com']) }));
      expect(found.map((r) => r.address)).toEqual(['audit@example.com']);
    });

    it('without one, takes the To and Cc addresses at your domains, and no others', () => {
      const found = findRecipients(
        fieldsOf('multiRecipient'),
        rules({ recipients: new Map([['sales@example.com', 'sales']]), domains: new Set(['example.com']) }),
      );
      expect(found).toEqual([
        { address: 'support@example.com', from: 'header', accountId: 'support_at_example.com' },
        { address: 'sales@example.com', from: 'header', accountId: 'sales' },
      ]);
    });

    it('counts a To/Cc address as yours only when the rules name it or its domain', () => {
      const found = findRecipients(
        fieldsOf('multiRecipient'),
        rules({ recipients: new Map([['sales@example.com', 'sales']]) }),
      );
      expect(found.map((r) => r.address)).toEqual(['sales@example.com']);
      expect(findRecipients(fieldsOf('multiRecipient'), rules())).toEqual([]);
    });

    it('reads groups and every To/Cc field, each address once', () => {
      const fields = headers(
        'To: Team: a@example.com, b@example.com;, a@example.com\nCc: c@example.com\nCc: B@example.com\nBcc: d@example.com\n\n',
      );
      const found = findRecipients(fields, rules({ domains: new Set(['example.com']) }));
      expect(found.map((r) => r.address)).toEqual(['a@example.com', 'b@example.com', 'c@example.com']);
    });
  });

  it('accountsOf: one account per distinct id, in order, leaving out recipients with none', () => {
    expect(
      accountsOf([
        { address: 'a@x.com', from: 'header', accountId: 'shared' },
        { address: 'b@x.com', from: 'header', accountId: undefined },
        { address: 'c@x.com', from: 'header', accountId: 'other' },
        { address: 'd@x.com', from: 'header', accountId: 'shared' },
      ]),
    ).toEqual(['shared', 'other']);
  });
});
