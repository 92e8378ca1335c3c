import {
  inspectMessage,
  receivedBySes,
  sesEnvelopeRecipient,
  type HeaderField,
} from '../../../functions/ses/ses-message';
import { sesObject } from '../../support/ses/fixtures';

const LIMITS = { maxMessageBytes: 1000, maxHeaderBytes: 200 };

function fieldsOf(bytes: Buffer): readonly HeaderField[] {
  const inspection = inspectMessage(bytes);
  if (!inspection.valid) throw new Error(`expected a valid message: ${inspection.reason}`);
  return inspection.fields;
}

describe('Module: ses/ses-message', () => {
  describe('inspectMessage', () => {
    it.each(['singleRecipient', 'multiRecipient', 'eightBit'] as const)(
      'takes the SES-written %s as a message, its header fields unfolded',
      (name) => {
        const fields = fieldsOf(sesObject(name));
        expect(fields.slice(0, 4).map((f) => f.name)).toEqual([
          'return-path',
          'received',
          'x-ses-spam-verdict',
          'x-ses-virus-verdict',
        ]);
        expect(fields.find((f) => f.name === 'x-ses-receipt')).toBeDefined();
        // Folded lines are joined with one space (RFC 5322 §2.2.3).
        expect(fields[1]!.value).toMatch(
          /^from \S+ \(.*\) by inbound-smtp\.eu-west-1\.amazonaws\.com with SMTP id /,
        );
      },
    );

    it("reads the fields of the message itself after SES's", () => {
      const fields = fieldsOf(sesObject('singleRecipient'));
      expect(fields.find((f) => f.name === 'subject')?.value).toBe('=?UTF-8?Q?Facture_d=C3=A9cembre?=');
      expect(fields.filter((f) => f.name === 'content-type')).toHaveLength(1);
    });

    it.each([
      ['an empty object', Buffer.alloc(0), 'the object is empty'],
      [
        'an object over the limit',
        Buffer.alloc(1001, 0x41),
        'the object is 1001 bytes, over the 1000-byte limit',
      ],
      ['no header section', sesObject('invalid'), 'line 1 of the header section is not a header field'],
      ['a blank first line', Buffer.from('\r\nSubject: x\r\n'), 'the object starts with an empty line'],
      [
        'a folded first line',
        Buffer.from(' Subject: x\r\n\r\nbody'),
        'the object starts with a folded line, not a header field',
      ],
      [
        'a field name with a space',
        Buffer.from('Subject: x\r\nBad Name: y\r\n\r\n'),
        'line 2 of the header section is not a header field',
      ],
      [
        'an empty field name',
        Buffer.from('Subject: x\r\n: y\r\n\r\n'),
        'line 2 of the header section is not a header field',
      ],
      [
        'binary junk',
        Buffer.from([0x00, 0x01, 0x02, 0x3a, 0x0d, 0x0a]),
        'line 1 of the header section is not a header field',
      ],
      [
        'a header section that does not end in time',
        Buffer.from(`Subject: ${'x'.repeat(300)}\r\n\r\nbody`),
        'no end of the header section in the first 200 bytes',
      ],
    ])('refuses %s, saying why', (_name, bytes, reason) => {
      expect(inspectMessage(bytes, LIMITS)).toEqual({ valid: false, reason });
    });

    it('accepts bare LF line ends, and a message with no body (RFC 5322 §3.5)', () => {
      expect(inspectMessage(Buffer.from('From: a@example.com\nSubject: hi\n\nbody\n'), LIMITS)).toMatchObject(
        {
          valid: true,
          fields: [
            { name: 'from', value: 'a@example.com' },
            { name: 'subject', value: 'hi' },
          ],
        },
      );
      expect(inspectMessage(Buffer.from('Subject: only headers'), LIMITS)).toEqual({
        valid: true,
        fields: [{ name: 'subject', value: 'only headers' }],
      });
    });

    it('stops at the header section: body lines are not checked', () => {
      const bytes = Buffer.from('Subject: x\r\n\r\nnot: a header\r\n no way\r\n\x00\xff');
      expect(inspectMessage(bytes, LIMITS)).toEqual({
        valid: true,
        fields: [{ name: 'subject', value: 'x' }],
      });
    });
  });

  describe('sesEnvelopeRecipient', () => {
    it('is the FOR clause of the Received field SES adds (RFC 5321 §4.4)', () => {
      expect(sesEnvelopeRecipient(fieldsOf(sesObject('singleRecipient')))).toBe('support@example.com');
      expect(sesEnvelopeRecipient(fieldsOf(sesObject('eightBit')))).toBe('billing+invoices@example.com');
    });

    it('is undefined when SES names no recipient (a delivery to several)', () => {
      const fields = fieldsOf(sesObject('multiRecipient'));
      expect(receivedBySes(fields)).toBe(true);
      expect(sesEnvelopeRecipient(fields)).toBeUndefined();
    });

    it('takes an angle-bracketed path too', () => {
      const fields: HeaderField[] = [
        {
          name: 'received',
          value:
            'from x by inbound-smtp.us-east-1.amazonaws.com with SMTP id abc for <Ops@Example.com>; Mon, 7 Dec 2026',
        },
      ];
      expect(sesEnvelopeRecipient(fields)).toBe('Ops@Example.com');
    });

    it("reads only the topmost Received field, and only if it is SES's: the sender's own trace fields may name anyone", () => {
      const forged = Buffer.from(
        'Received: from evil.example by mx.evil.example for victim@example.com; Mon, 7 Dec 2026\r\n' +
          'Received: from x by inbound-smtp.eu-west-1.amazonaws.com with SMTP id a for ceo@example.com; Mon, 7 Dec 2026\r\n' +
          'Subject: x\r\n\r\n',
      );
      const fields = fieldsOf(forged);
      expect(receivedBySes(fields)).toBe(false);
      expect(sesEnvelopeRecipient(fields)).toBeUndefined();
      const below = fieldsOf(
        Buffer.from(
          'Received: from x by inbound-smtp.eu-west-1.amazonaws.com with SMTP id a; Mon, 7 Dec 2026\r\n' +
            'Received: from y by relay.example.net for someone@example.com; Mon, 7 Dec 2026\r\n\r\n',
        ),
      );
      expect(sesEnvelopeRecipient(below)).toBeUndefined();
    });
  });
});
