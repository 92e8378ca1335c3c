/**
 * Sample messages for `pop3-poller demo`: the kinds of mail that break other pollers.
 * Each is raw bytes with CRLF line endings, as a server would store them.
 */

const crlf = (lines: readonly string[]) => `${lines.join('\r\n')}\r\n`;

/** ISO-2022-JP text, pre-encoded: "明日の会議は10時から第一会議室で行います。" / "よろしくお願いいたします。". */
const JAPANESE_BODY = Buffer.concat([
  Buffer.from('GyRCTEBGfCROMnE1RCRPGyhCMTAbJEI7fiQrJGlCaDBsMnE1RDw8JEc5VCQkJF4kOSEjGyhC', 'base64'),
  Buffer.from('\r\n'),
  Buffer.from('GyRCJGgkbSQ3JC8kKjRqJCQkJCQ/JDckXiQ5ISMbKEI=', 'base64'),
  Buffer.from('\r\n'),
]);

export function sampleMessages(now = new Date()): Buffer[] {
  const date = now.toUTCString().replace('GMT', '+0000');
  const japanese = Buffer.concat([
    Buffer.from(
      crlf([
        // Subject "会議のお知らせ" and sender name "山田太郎", RFC 2047 encoded words in ISO-2022-JP.
        'From: =?ISO-2022-JP?B?GyRCOzNFREJATzobKEI=?= <yamada@example.jp>',
        'To: support@example.com',
        'Subject: =?ISO-2022-JP?B?GyRCMnE1RCROJCpDTiRpJDsbKEI=?=',
        `Date: ${date}`,
        'Message-ID: <demo-ja-1@example.jp>',
        'MIME-Version: 1.0',
        'Content-Type: text/plain; charset=ISO-2022-JP',
        'Content-Transfer-Encoding: 7bit',
        '',
      ]),
    ),
    JAPANESE_BODY,
  ]);

  const pdf = Buffer.from(
    '%PDF-1.4\n% demo invoice\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n',
  );
  const attachment = Buffer.from(
    crlf([
      'From: Billing <billing@example.com>',
      'To: support@example.com',
      'Subject: Invoice 2026-11 attached',
      `Date: ${date}`,
      'Message-ID: <demo-invoice-1@example.com>',
      'MIME-Version: 1.0',
      'Content-Type: multipart/mixed; boundary="demo-boundary"',
      '',
      '--demo-boundary',
      'Content-Type: text/plain; charset=utf-8',
      '',
      'Please find the invoice attached.',
      '--demo-boundary',
      'Content-Type: application/pdf; name="invoice-2026-11.pdf"',
      'Content-Disposition: attachment; filename="invoice-2026-11.pdf"',
      'Content-Transfer-Encoding: base64',
      '',
      ...(pdf.toString('base64').match(/.{1,76}/g) ?? []),
      '--demo-boundary--',
    ]),
  );

  const dotted = Buffer.concat([
    Buffer.from(
      crlf([
        'From: =?UTF-8?Q?Ren=C3=A9e_Dupont?= <renee@example.fr>',
        'To: support@example.com',
        'Subject: =?UTF-8?Q?Caf=C3=A9_order_=E2=98=95?=',
        `Date: ${date}`,
        'Message-ID: <demo-fr-1@example.fr>',
        'MIME-Version: 1.0',
        'Content-Type: text/plain; charset=utf-8',
        'Content-Transfer-Encoding: 8bit',
        '',
        'Lines that start with a dot must survive byte-stuffing:',
        '.',
        '..two dots',
        '.single dot',
      ]),
    ),
    // Raw 8-bit UTF-8 in the body: it must be archived as bytes, never re-encoded.
    Buffer.from('Un café crème, s’il vous plaît.\r\n', 'utf8'),
  ]);

  const plain = Buffer.from(
    crlf([
      'From: Monitoring <alerts@example.com>',
      'To: support@example.com',
      'Subject: Nightly backup completed',
      `Date: ${date}`,
      'Message-ID: <demo-alert-1@example.com>',
      '',
      'All 42 volumes were backed up successfully.',
    ]),
  );

  return [japanese, attachment, dotted, plain];
}
