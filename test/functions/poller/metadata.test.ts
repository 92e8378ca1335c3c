import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'esbuild';
import { DEFAULT_METADATA_LIMITS, readMetadata, UNAVAILABLE } from '../../../functions/poller/metadata';
import { Spool } from '../../../functions/poller/spool';

const crlf = (...lines: string[]) => Buffer.from(lines.join('\r\n'), 'utf8');

let dir: string;
const spools: Spool[] = [];

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'metadata-test-'));
});

afterEach(async () => {
  await Promise.all(spools.splice(0).map((s) => s.release()));
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A spool of `bytes`, in memory unless `memoryLimitBytes` is smaller than the message. */
async function spoolOf(bytes: Buffer, memoryLimitBytes = 1 << 20): Promise<Spool> {
  async function* one() {
    yield bytes;
  }
  const spool = await Spool.fromStream(one(), { memoryLimitBytes, dir });
  spools.push(spool);
  return spool;
}

/** The test fixtures' legacy-charset octets were made with iconv when the tests were written. */
const ISO_2022_JP = {
  /** `printf 日本語の件名です | iconv -f UTF-8 -t ISO-2022-JP | base64` */
  subject: { base64: 'GyRCRnxLXDhsJE43b0w+JEckORsoQg==', text: '日本語の件名です' },
  /** `printf 山田太郎 | iconv -f UTF-8 -t ISO-2022-JP | base64` */
  name: { base64: 'GyRCOzNFREJATzobKEI=', text: '山田太郎' },
  /** `printf こんにちは、世界。 | iconv -f UTF-8 -t ISO-2022-JP | xxd -p` (raw 7-bit body) */
  body: { hex: '1b244224332473244b2441244f2122402433262123' + '1b2842', text: 'こんにちは、世界。' },
};

const SHIFT_JIS = {
  /** `printf お見積もりのご案内 | iconv -f UTF-8 -t SHIFT_JIS | base64` */
  subject: { base64: 'gqiMqZDPguCC6ILMgrKIxJPg', text: 'お見積もりのご案内' },
  /** `printf 田中花子 | iconv -f UTF-8 -t SHIFT_JIS | base64` */
  name: { base64: 'k2OShonUjnE=', text: '田中花子' },
  /** `printf 請求書 | iconv -f UTF-8 -t SHIFT_JIS | xxd -p`, as a Q encoded-word: 請求書.pdf */
  filename: { q: '=90=BF=8B=81=8F=91=2Epdf', text: '請求書.pdf' },
};

describe('Function: readMetadata', () => {
  describe('fixtures', () => {
    // If these fail, the fixtures are wrong, not the code under test.
    it("decode with Node's own TextDecoder to the text they stand for", () => {
      const iso = new TextDecoder('iso-2022-jp');
      expect(iso.decode(Buffer.from(ISO_2022_JP.subject.base64, 'base64'))).toBe(ISO_2022_JP.subject.text);
      expect(iso.decode(Buffer.from(ISO_2022_JP.name.base64, 'base64'))).toBe(ISO_2022_JP.name.text);
      expect(iso.decode(Buffer.from(ISO_2022_JP.body.hex, 'hex'))).toBe(ISO_2022_JP.body.text);
      const sjis = new TextDecoder('shift_jis');
      expect(sjis.decode(Buffer.from(SHIFT_JIS.subject.base64, 'base64'))).toBe(SHIFT_JIS.subject.text);
      expect(sjis.decode(Buffer.from(SHIFT_JIS.name.base64, 'base64'))).toBe(SHIFT_JIS.name.text);
      expect(sjis.decode(Buffer.from('90bf8b818f91', 'hex'))).toBe('請求書');
      // The ISO-2022-JP octets are 7-bit, as they travel in mail.
      expect([...Buffer.from(ISO_2022_JP.body.hex, 'hex')].every((b) => b < 0x80)).toBe(true);
    });
  });

  it('reads the envelope headers of a plain message', async () => {
    const message = crlf(
      'From: "Sender, Ltd." <sender@example.org>',
      'To: Alice <alice@example.com>, bob@example.com',
      'Cc: Carol <carol@example.net>',
      'Subject: Quarterly report',
      'Date: Tue, 04 Mar 2025 10:00:00 +0100',
      'Message-ID: <q1.2025@example.org>',
      '',
      'Hello.',
      '',
    );
    expect(await readMetadata(await spoolOf(message))).toStrictEqual({
      metadata: 'complete',
      subject: 'Quarterly report',
      from: { name: 'Sender, Ltd.', address: 'sender@example.org' },
      to: [
        { name: 'Alice', address: 'alice@example.com' },
        { name: '', address: 'bob@example.com' },
      ],
      cc: [{ name: 'Carol', address: 'carol@example.net' }],
      date: '2025-03-04T09:00:00.000Z',
      messageId: '<q1.2025@example.org>',
      attachments: [],
    });
  });

  it('decodes RFC 2047 encoded words (UTF-8, B and Q) in the subject and display names', async () => {
    const message = crlf(
      'From: =?UTF-8?B?SsO8cmdlbiBNw7xsbGVy?= <juergen@example.de>',
      'To: =?UTF-8?Q?Fran=C3=A7oise_Dupr=C3=A9?= <francoise@example.fr>, Team: a@example.com, "Bob" <bob@example.com>;',
      // Two adjacent encoded words, B then Q: the space between them is not part of the text.
      'Subject: =?UTF-8?B?R3LDvMOfZSBhdXMgS8O2bG4=?= =?UTF-8?Q?_=E2=80=93_=E6=97=A5=E6=9C=AC?=',
      '',
      'x',
    );
    const metadata = await readMetadata(await spoolOf(message));
    expect(metadata.subject).toBe('Grüße aus Köln – 日本');
    expect(metadata.from).toEqual({ name: 'Jürgen Müller', address: 'juergen@example.de' });
    // Group members are listed as mailboxes.
    expect(metadata.to).toEqual([
      { name: 'Françoise Dupré', address: 'francoise@example.fr' },
      { name: '', address: 'a@example.com' },
      { name: 'Bob', address: 'bob@example.com' },
    ]);
  });

  it('decodes an ISO-2022-JP Japanese message', async () => {
    const message = Buffer.concat([
      crlf(
        `From: =?ISO-2022-JP?B?${ISO_2022_JP.name.base64}?= <yamada@example.jp>`,
        'To: tanaka@example.jp',
        `Subject: =?ISO-2022-JP?B?${ISO_2022_JP.subject.base64}?=`,
        'MIME-Version: 1.0',
        'Content-Type: text/plain; charset=ISO-2022-JP',
        'Content-Transfer-Encoding: 7bit',
        '',
        '',
      ),
      Buffer.from(ISO_2022_JP.body.hex, 'hex'),
      crlf('', ''),
    ]);
    const metadata = await readMetadata(await spoolOf(message));
    expect(metadata.metadata).toBe('complete');
    expect(metadata.subject).toBe('日本語の件名です');
    expect(metadata.from).toEqual({ name: '山田太郎', address: 'yamada@example.jp' });
  });

  it('decodes a Shift_JIS Japanese message, attachment name included', async () => {
    const message = crlf(
      `From: =?Shift_JIS?B?${SHIFT_JIS.name.base64}?= <tanaka@example.jp>`,
      `Subject: =?Shift_JIS?B?${SHIFT_JIS.subject.base64}?=`,
      'MIME-Version: 1.0',
      'Content-Type: multipart/mixed; boundary="sjis"',
      '',
      '--sjis',
      'Content-Type: text/plain; charset=us-ascii',
      '',
      'See attached.',
      '--sjis',
      'Content-Type: application/pdf',
      `Content-Disposition: attachment; filename="=?Shift_JIS?Q?${SHIFT_JIS.filename.q}?="`,
      'Content-Transfer-Encoding: base64',
      '',
      Buffer.from('%PDF-1.4').toString('base64'),
      '--sjis--',
      '',
    );
    const metadata = await readMetadata(await spoolOf(message));
    expect(metadata.subject).toBe('お見積もりのご案内');
    expect(metadata.from).toEqual({ name: '田中花子', address: 'tanaka@example.jp' });
    expect(metadata.attachments).toEqual([{ filename: '請求書.pdf', mimeType: 'application/pdf', size: 8 }]);
  });

  it('lists the attachments of a small multipart message with their decoded sizes', async () => {
    const pdf = Buffer.alloc(1000, 0x25);
    const png = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x01]);
    const base64Lines = (b: Buffer) => b.toString('base64').match(/.{1,76}/g)!;
    const message = crlf(
      'From: a@example.com',
      'Subject: files',
      'MIME-Version: 1.0',
      'Content-Type: multipart/mixed; boundary="XYZ"',
      '',
      '--XYZ',
      'Content-Type: text/plain; charset=utf-8',
      '',
      'Hello',
      '--XYZ',
      'Content-Type: application/pdf; name="report.pdf"',
      'Content-Disposition: attachment; filename="report.pdf"',
      'Content-Transfer-Encoding: base64',
      '',
      ...base64Lines(pdf),
      '--XYZ',
      'Content-Type: text/csv; charset=utf-8',
      // RFC 2231 extended parameter: UTF-8, percent-encoded.
      "Content-Disposition: attachment; filename*=UTF-8''%E3%83%87%E3%83%BC%E3%82%BF.csv",
      'Content-Transfer-Encoding: quoted-printable',
      '',
      'a,b',
      '1,2',
      '--XYZ',
      'Content-Type: image/png',
      'Content-Disposition: inline; filename="logo.png"',
      'Content-ID: <logo>',
      'Content-Transfer-Encoding: base64',
      '',
      ...base64Lines(png),
      '--XYZ--',
      '',
    );
    const metadata = await readMetadata(await spoolOf(message));
    expect(metadata.metadata).toBe('complete');
    expect(metadata.attachments).toEqual([
      { filename: 'report.pdf', mimeType: 'application/pdf', size: 1000 },
      { filename: 'データ.csv', mimeType: 'text/csv', size: 8 }, // "a,b\r\n1,2"
      { filename: 'logo.png', mimeType: 'image/png', size: 10 },
    ]);
  });

  describe('large messages: headers only', () => {
    const big = crlf(
      'From: Big <big@example.com>',
      'Subject: =?UTF-8?Q?gro=C3=9F?=',
      'Message-ID: <big@example.com>',
      'Content-Type: multipart/mixed; boundary="b"',
      '',
      '--b',
      'Content-Type: application/octet-stream',
      'Content-Disposition: attachment; filename="blob.bin"',
      'Content-Transfer-Encoding: base64',
      '',
      ...Array.from({ length: 200 }, () => 'A'.repeat(76)),
      '--b--',
      '',
    );

    it("reads only the header block of a message over fullParseMaxBytes ('headers', no attachment list)", async () => {
      const metadata = await readMetadata(await spoolOf(big), {
        ...DEFAULT_METADATA_LIMITS,
        fullParseMaxBytes: 1024,
      });
      expect(metadata).toStrictEqual({
        metadata: 'headers',
        subject: 'groß',
        from: { name: 'Big', address: 'big@example.com' },
        to: [],
        cc: [],
        date: null,
        messageId: '<big@example.com>',
        attachments: null,
      });
    });

    it('reads only the header block of a message spooled to a file, whatever its size', async () => {
      const spool = await spoolOf(big, 1024);
      expect(spool.buffer).toBeUndefined();
      const metadata = await readMetadata(spool);
      expect(metadata.metadata).toBe('headers');
      expect(metadata.subject).toBe('groß');
      expect(metadata.attachments).toBeNull();
    });

    it('parses a full message at exactly fullParseMaxBytes', async () => {
      const spool = await spoolOf(big);
      const metadata = await readMetadata(spool, {
        ...DEFAULT_METADATA_LIMITS,
        fullParseMaxBytes: big.length,
      });
      expect(metadata.metadata).toBe('complete');
      expect(metadata.attachments).toEqual([
        { filename: 'blob.bin', mimeType: 'application/octet-stream', size: 200 * 57 },
      ]);
    });
  });

  describe('malformed mail', () => {
    it("reports 'unavailable' with the parser's error for MIME nested past the parser's limit", async () => {
      let nested = 'Subject: matryoshka\r\nContent-Type: multipart/mixed; boundary="b0"\r\n\r\n';
      for (let i = 1; i < 300; i++)
        nested += `--b${i - 1}\r\nContent-Type: multipart/mixed; boundary="b${i}"\r\n\r\n`;
      const metadata = await readMetadata(await spoolOf(Buffer.from(nested)));
      expect(metadata).toStrictEqual({
        ...UNAVAILABLE,
        metadataError: expect.stringMatching(/nesting depth/) as unknown as string,
      });
    });

    it("reports 'unavailable' for a header section larger than the parser accepts", async () => {
      const huge = Buffer.concat([
        Buffer.from('Subject: long\r\n'),
        Buffer.from(`X-Filler: ${'y'.repeat(990)}\r\n`.repeat(2200)),
        Buffer.from('\r\nbody\r\n'),
      ]);
      const metadata = await readMetadata(await spoolOf(huge, 4 << 20));
      expect(metadata.metadata).toBe('unavailable');
      expect(metadata.metadataError).toMatch(/header size/);
    });

    it('reads what it can from a header block of garbage, without throwing', async () => {
      const garbage = Buffer.concat([
        Buffer.from([0x00, 0x01, 0xff, 0xfe]),
        Buffer.from(' not a header\r\n: empty name\r\nSubject\r\nX-Bad:\x00\x00\r\n\r\nbody\r\n', 'latin1'),
      ]);
      const metadata = await readMetadata(await spoolOf(garbage));
      expect(metadata).toMatchObject({ metadata: 'complete', subject: null, from: null, to: [], date: null });
    });

    it('gives null for a Date that does not parse, and for a message with no header section', async () => {
      const badDate = await readMetadata(await spoolOf(crlf('Date: not a date', 'Subject: s', '', 'x')));
      expect(badDate.date).toBeNull();
      expect(badDate.subject).toBe('s');
      const bodyOnly = await readMetadata(await spoolOf(Buffer.from('just a body, no header at all\r\n')));
      expect(bodyOnly).toMatchObject({ subject: null, from: null, messageId: null, date: null });
    });
  });
});

describe('readMetadata bundled by esbuild, as the CLI and the Lambda functions are', () => {
  // esbuild resolves postal-mime to its ESM build, ts-jest and tsc to its CommonJS build; the two
  // differ (the CommonJS build also hangs its named exports on the class). Metadata once came out
  // 'unavailable' for every message in the bundles while these tests passed.
  it('decodes the header fields the same way', async () => {
    const out = join(dir, 'metadata-bundle.js');
    await build({
      entryPoints: [join(__dirname, '../../../functions/poller/metadata.ts')],
      outfile: out,
      bundle: true,
      platform: 'node',
      format: 'cjs',
      logLevel: 'silent',
    });
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const bundled = require(out) as { readMetadata: typeof readMetadata };
    const message = crlf(
      'From: =?UTF-8?B?SsO8cmdlbiBNw7xsbGVy?= <juergen@example.de>',
      'To: a@example.com',
      'Subject: =?UTF-8?Q?Gr=C3=BC=C3=9Fe?=',
      'Message-ID: <bundled@example.com>',
      '',
      'x',
    );
    const spool = await spoolOf(message);
    const expected = await readMetadata(spool);
    expect(expected).toMatchObject({ metadata: 'complete', subject: 'Grüße' });
    expect(await bundled.readMetadata(spool)).toStrictEqual(expected);
  });
});
