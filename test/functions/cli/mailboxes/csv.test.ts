import { formatCsv, parseCsv } from '../../../../functions/cli/mailboxes/csv';
import { formatProblems, readMailboxCsv, writeMailboxCsv } from '../../../../functions/cli/mailboxes/rows';
import type { MailboxRecord } from '../../../../functions/registry/record';

/** Distinctive, so a test can tell whether any message carries it. */
const PASSWORD = 'Zq7-hunter2-DO-NOT-LEAK';

describe('parseCsv', () => {
  it('reads quoted fields with commas, doubled quotes and line breaks, CRLF or LF, and a BOM', () => {
    const text = '\uFEFFa,b,c\r\n"x,1","say ""hi""","two\r\nlines"\n3,,"6"';
    expect(parseCsv(text)).toEqual({
      records: [
        { line: 1, fields: ['a', 'b', 'c'], blank: false },
        { line: 2, fields: ['x,1', 'say "hi"', 'two\r\nlines'], blank: false },
        { line: 4, fields: ['3', '', '6'], blank: false },
      ],
    });
  });

  it('takes a trailing newline as the end of the last record, and marks empty lines blank', () => {
    const { records } = parseCsv('a\n\nb\n');
    expect(records.map((r) => [r.line, r.fields, r.blank])).toEqual([
      [1, ['a'], false],
      [2, [''], true],
      [3, ['b'], false],
    ]);
    expect(parseCsv('""\n').records[0]!.blank).toBe(false);
    expect(parseCsv('a,\n').records[0]!.fields).toEqual(['a', '']);
  });

  it('reports stray quotes by field position, and an unclosed quote by its line', () => {
    expect(parseCsv('a"b,c\n').records[0]!.problem).toBe('field 1 has a quote but does not start with one');
    expect(parseCsv('x,"a"b\n').records[0]!.problem).toBe('field 2 has characters after its closing quote');
    expect(parseCsv('a\nb\n"open\n\n').unterminatedQuoteLine).toBe(3);
  });

  it('formats what it reads back', () => {
    const rows = [['a', 'b,c', 'say "hi"', 'two\nlines', ' padded', '']];
    expect(formatCsv(rows)).toBe('a,"b,c","say ""hi""","two\nlines"," padded",\r\n');
    expect(parseCsv(formatCsv(rows)).records[0]!.fields).toEqual(rows[0]);
  });
});

describe('readMailboxCsv', () => {
  const HEADER = 'id,host,username,port,mode,enabled,password';

  it('converts cells to the record types; an empty cell is unset; a password row has no secretId yet', () => {
    const { rows, problems } = readMailboxCsv(
      `${HEADER}\r\nsupport, pop.example.com ,support@example.com,995,keep,FALSE, ${PASSWORD} \r\n`,
    );
    expect(problems).toEqual([]);
    expect(rows).toEqual([
      {
        line: 2,
        record: {
          id: 'support',
          host: 'pop.example.com',
          username: 'support@example.com',
          port: 995,
          mode: 'keep',
          enabled: false,
        },
        password: ` ${PASSWORD} `,
      },
    ]);
  });

  it('keeps a row’s own secretId', () => {
    const { rows } = readMailboxCsv('id,provider,username,secretId\nm,gmail,recent:m@gmail.com,pop3/m\n');
    expect(rows[0]!.record).toEqual({
      id: 'm',
      provider: 'gmail',
      username: 'recent:m@gmail.com',
      secretId: 'pop3/m',
    });
    expect(rows[0]!.password).toBeUndefined();
  });

  it('rejects unknown columns by name, and missing required columns', () => {
    expect(readMailboxCsv('id,host,user,Password\n').problems).toEqual([
      {
        line: 1,
        message: expect.stringMatching(
          /^unknown column\(s\): "user", "Password" \(columns are id, provider, /,
        ),
      },
    ]);
    expect(readMailboxCsv('id,port\n1,2\n').problems).toEqual([
      { line: 1, message: 'missing column(s): username, host (or provider), secretId (or password)' },
    ]);
    expect(readMailboxCsv('').problems).toEqual([{ line: 1, message: 'the header row is missing' }]);
    expect(readMailboxCsv('id,id,host,username,secretId\n').problems[0]!.message).toBe(
      'column(s) given twice: id',
    );
  });

  it('names the line a row starts on, even after a quoted field spanning lines, and the column', () => {
    const text = [
      'id,host,username,secretId,port',
      'a,h,"multi',
      'line user",s,1',
      'b,h,u,s,99999',
      'c,h,u,s,x',
      'd,,u,s,',
      'e,h,u,,',
    ].join('\n');
    expect(readMailboxCsv(text).problems).toEqual([
      { line: 4, message: 'port must be an integer from 1 to 65535' },
      { line: 5, message: 'port must be an integer' },
      { line: 6, message: 'needs "host" (or "provider")' },
      { line: 7, message: 'needs "secretId" or "password"' },
    ]);
  });

  it('reports type errors, wrong field counts and choices without echoing a value', () => {
    const text = [
      'id,host,username,enabled,tls,mode,deleteAfterDays,password',
      `a,h,u,yes,ssl,,,${PASSWORD}`,
      `b,h,u,,,,3,${PASSWORD}`,
      `c,h,u,true,${PASSWORD}`,
      `bad id!,h,u,,,,,${PASSWORD}`,
      `"x"${PASSWORD},h,u,,,,,${PASSWORD}`,
    ].join('\n');
    const { rows, problems } = readMailboxCsv(text);
    expect(rows).toEqual([]);
    expect(problems).toEqual([
      { line: 2, message: 'enabled must be true or false; tls must be one of implicit, starttls, none' },
      { line: 3, message: '"deleteAfterDays" applies only to mode "keep"' },
      { line: 4, message: 'has 5 fields, the header has 8' },
      { line: 5, message: 'id must be 1-64 characters of A-Z a-z 0-9 . _ -' },
      { line: 6, message: 'field 1 has characters after its closing quote' },
    ]);
    expect(JSON.stringify(problems)).not.toContain('hunter2');
    expect(formatProblems('f.csv', problems)).not.toContain('hunter2');
  });

  it('rejects a password together with secretId or secretKey', () => {
    const { problems } = readMailboxCsv(
      `id,host,username,secretId,secretKey,password\na,h,u,s,k,${PASSWORD}\n`,
    );
    expect(problems).toEqual([
      {
        line: 2,
        message:
          'give "secretId" or "password", not both; "secretKey" does not go with "password" (the shared secret\'s entry is keyed by the id)',
      },
    ]);
  });

  it('names both lines of a duplicate id', () => {
    const { problems } = readMailboxCsv('id,host,username,secretId\na,h,u,s\nb,h,u,s\na,h,u,s\n');
    expect(problems).toEqual([{ line: 4, message: 'the same id as line 2' }]);
  });

  it('lists at most 20 bad lines, then how many more', () => {
    const problems = Array.from({ length: 23 }, (_, n) => ({ line: n + 2, message: 'bad' }));
    const text = formatProblems('f.csv', problems);
    expect(text.split('\n').filter(Boolean)).toHaveLength(21);
    expect(text).toContain('  f.csv:21: bad\n  and 3 more\n');
  });

  it('reads back what writeMailboxCsv writes', () => {
    const records: MailboxRecord[] = [
      {
        id: 'b',
        host: 'pop.example.com',
        username: 'b, "quoted"',
        secretId: 'pop3/shared-0001',
        enabled: false,
      },
      {
        id: 'a',
        provider: 'gmail',
        username: 'recent:a@gmail.com',
        secretId: 'arn:aws:secretsmanager:eu-west-1:111122223333:secret:a',
        mode: 'keep',
        deleteAfterDays: 30,
        maxMessages: 100,
        schedule: 'hourly',
      },
    ];
    const csv = writeMailboxCsv(records);
    expect(csv.split('\r\n')[0]).toBe(
      'id,provider,host,port,tls,username,secretId,secretKey,mode,deleteAfterDays,authMethod,certificateSha256,maxMessages,maxBytes,schedule,enabled',
    );
    const { rows, problems } = readMailboxCsv(csv);
    expect(problems).toEqual([]);
    expect(rows.map((r) => r.record)).toEqual([records[1], records[0]]);
  });
});
