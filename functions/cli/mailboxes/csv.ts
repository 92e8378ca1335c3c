/**
 * CSV as RFC 4180 defines it, with the leniencies real files need: fields separated by commas,
 * records by CRLF or LF (a lone CR too), fields in double quotes may hold commas, line breaks and
 * doubled quotes (`""`), a final line break is optional, and a UTF-8 byte order mark (which
 * spreadsheet programs write) is skipped.
 *
 * Each record carries the line it starts on (a quoted field with a line break spans lines), so
 * that errors can point at the file. Problems name positions, never field contents: a mailbox CSV
 * carries passwords.
 */

export interface CsvRecord {
  /** The line (from 1) the record starts on. */
  readonly line: number;
  readonly fields: readonly string[];
  /** A quote where RFC 4180 allows none; the fields are as read, but not to be trusted. */
  readonly problem?: string;
  /** An empty line (no characters at all), which readers skip. */
  readonly blank: boolean;
}

export interface ParsedCsv {
  readonly records: readonly CsvRecord[];
  /** The line of a quoted field that is never closed: the rest of the file is one field. */
  readonly unterminatedQuoteLine?: number;
}

export function parseCsv(text: string): ParsedCsv {
  const records: CsvRecord[] = [];
  const length = text.length;
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  let line = 1;
  while (i < length) {
    const start = line;
    const fields: string[] = [];
    let problem: string | undefined;
    let quotedFirst = false;
    for (;;) {
      let value: string;
      if (text[i] === '"') {
        if (fields.length === 0) quotedFirst = true;
        const fieldLine = line;
        const parts: string[] = [];
        i++;
        for (;;) {
          const quote = text.indexOf('"', i);
          if (quote === -1) return { records, unterminatedQuoteLine: fieldLine };
          const chunk = text.slice(i, quote);
          line += lineBreaks(chunk);
          parts.push(chunk);
          if (text[quote + 1] === '"') {
            parts.push('"');
            i = quote + 2;
            continue;
          }
          i = quote + 1;
          break;
        }
        value = parts.join('');
        if (i < length && !isDelimiter(text.charCodeAt(i))) {
          problem ??= `field ${fields.length + 1} has characters after its closing quote`;
          const end = delimiterFrom(text, i);
          value += text.slice(i, end);
          i = end;
        }
      } else {
        const end = delimiterFrom(text, i);
        value = text.slice(i, end);
        if (value.includes('"'))
          problem ??= `field ${fields.length + 1} has a quote but does not start with one`;
        i = end;
      }
      fields.push(value);
      if (i >= length) break;
      if (text[i] === ',') {
        i++;
        continue;
      }
      i += text[i] === '\r' && text[i + 1] === '\n' ? 2 : 1;
      line++;
      break;
    }
    const blank = fields.length === 1 && fields[0] === '' && !quotedFirst;
    records.push({ line: start, fields, blank, ...(problem ? { problem } : {}) });
  }
  return { records };
}

/** Comma, CR or LF. */
function isDelimiter(code: number): boolean {
  return code === 44 || code === 13 || code === 10;
}

function delimiterFrom(text: string, from: number): number {
  let i = from;
  while (i < text.length && !isDelimiter(text.charCodeAt(i))) i++;
  return i;
}

/** Line breaks in a quoted field's text: CRLF, LF and a lone CR each count once. */
function lineBreaks(chunk: string): number {
  let n = 0;
  for (let i = 0; i < chunk.length; i++) {
    const c = chunk.charCodeAt(i);
    if (c === 10 || (c === 13 && chunk.charCodeAt(i + 1) !== 10)) n++;
  }
  return n;
}

/**
 * CSV text, CRLF after every record (RFC 4180). A field is quoted when it holds a comma, a quote or
 * a line break, or starts or ends with white space (which readers may trim).
 */
export function formatCsv(rows: readonly (readonly string[])[]): string {
  return rows.map((row) => `${row.map(formatField).join(',')}\r\n`).join('');
}

function formatField(value: string): string {
  return /[",\r\n]|^\s|\s$/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}
