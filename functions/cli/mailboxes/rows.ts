import { checkMailboxRecord, RECORD_KEYS, type MailboxRecord } from '../../registry/record';
import { formatCsv, parseCsv } from './csv';

/**
 * Mailbox rows, as `mailboxes import` reads them from CSV and `mailboxes add` from its options:
 * the MailboxRecord's fields as text, plus `password`. Every row is validated with the record's
 * own schema before anything is written. Problems name the line and the field, never a value.
 */

/** A validated row. `secretId` is absent exactly when `password` is set: the CLI fills it. */
export interface MailboxRow {
  /** The file line the row starts on (0 for `add`). */
  readonly line: number;
  readonly record: Omit<MailboxRecord, 'secretId'> & { readonly secretId?: string };
  readonly password?: string;
}

export interface LineProblem {
  readonly line: number;
  readonly message: string;
}

export const PASSWORD_COLUMN = 'password';
export const COLUMNS: readonly string[] = [...RECORD_KEYS, PASSWORD_COLUMN];

const INTEGER_FIELDS = new Set<string>(['port', 'deleteAfterDays', 'maxMessages', 'maxBytes']);
const BOOLEAN_FIELDS = new Set<string>(['enabled']);
/** Stands in for the secret the CLI will choose, so that the schema can check the rest of the row. */
const SECRET_PLACEHOLDER = 'pop3-poller/placeholder';

/**
 * A row's fields (text, empty = unset, already trimmed except the password) as a validated row, or
 * its problems. Integers and booleans are converted here; ranges and choices are the schema's.
 */
export function rowFromFields(
  fields: Readonly<Record<string, string>>,
  line = 0,
): { ok: true; row: MailboxRow } | { ok: false; problems: string[] } {
  const problems: string[] = [];
  const input: Record<string, unknown> = {};
  for (const [key, text] of Object.entries(fields)) {
    if (key === PASSWORD_COLUMN || text === '') continue;
    if (INTEGER_FIELDS.has(key)) {
      if (/^[+-]?\d+$/.test(text)) input[key] = Number(text);
      else problems.push(`${key} must be an integer`);
    } else if (BOOLEAN_FIELDS.has(key)) {
      if (/^(true|false)$/i.test(text)) input[key] = text.toLowerCase() === 'true';
      else problems.push(`${key} must be true or false`);
    } else {
      input[key] = text;
    }
  }
  const password = fields[PASSWORD_COLUMN] || undefined;
  if (password !== undefined) {
    if (input.secretId !== undefined) problems.push('give "secretId" or "password", not both');
    if (input.secretKey !== undefined) {
      problems.push(
        '"secretKey" does not go with "password" (the shared secret\'s entry is keyed by the id)',
      );
    }
  } else if (input.secretId === undefined) {
    problems.push('needs "secretId" or "password"');
  }
  const checked = checkMailboxRecord({ ...input, secretId: input.secretId ?? SECRET_PLACEHOLDER });
  if (!checked.ok) problems.push(...checked.problems);
  if (problems.length > 0 || !checked.ok) return { ok: false, problems };
  const record = password === undefined ? checked.value : withoutSecretId(checked.value);
  return { ok: true, row: { line, record, ...(password !== undefined ? { password } : {}) } };
}

function withoutSecretId(record: MailboxRecord): MailboxRow['record'] {
  const { secretId: _placeholder, ...rest } = record;
  return rest;
}

export interface ReadRows {
  readonly rows: readonly MailboxRow[];
  /** Sorted by line; empty when every row is good. */
  readonly problems: readonly LineProblem[];
}

/**
 * Reads a whole mailbox CSV: a header row of column names (RECORD_KEYS and `password`, any order
 * and subset, `id`, `username` and `host` or `provider` required), then one mailbox per line.
 */
export function readMailboxCsv(text: string): ReadRows {
  const parsed = parseCsv(text);
  const records = parsed.records.filter((r) => !r.blank);
  const problems: LineProblem[] = [];
  if (parsed.unterminatedQuoteLine !== undefined) {
    problems.push({ line: parsed.unterminatedQuoteLine, message: 'a quoted field is never closed' });
  }
  const header = records[0];
  if (header === undefined) {
    if (problems.length === 0) problems.push({ line: 1, message: 'the header row is missing' });
    return { rows: [], problems };
  }
  const columns = header.fields.map((name) => name.trim());
  const headerProblems = checkHeader(columns);
  if (header.problem) headerProblems.unshift(header.problem);
  if (headerProblems.length > 0) {
    problems.unshift({ line: header.line, message: headerProblems.join('; ') });
    return { rows: [], problems };
  }

  const rows: MailboxRow[] = [];
  const firstLineOf = new Map<string, number>();
  for (const record of records.slice(1)) {
    const line = record.line;
    if (record.problem) {
      problems.push({ line, message: record.problem });
      continue;
    }
    if (record.fields.length !== columns.length) {
      problems.push({
        line,
        message: `has ${record.fields.length} fields, the header has ${columns.length}`,
      });
      continue;
    }
    const fields: Record<string, string> = {};
    columns.forEach((column, n) => {
      const value = record.fields[n]!;
      // A password is taken as it is: its spaces may be part of it.
      fields[column] = column === PASSWORD_COLUMN ? value : value.trim();
    });
    const messages: string[] = [];
    const id = fields.id;
    if (id) {
      const first = firstLineOf.get(id);
      if (first !== undefined) messages.push(`the same id as line ${first}`);
      else firstLineOf.set(id, line);
    }
    const result = rowFromFields(fields, line);
    if (!result.ok) messages.push(...result.problems);
    if (messages.length > 0) problems.push({ line, message: messages.join('; ') });
    else if (result.ok) rows.push(result.row);
  }
  problems.sort((a, b) => a.line - b.line);
  return { rows, problems };
}

function checkHeader(columns: readonly string[]): string[] {
  const problems: string[] = [];
  const unknown = columns.filter((c) => !COLUMNS.includes(c));
  if (unknown.length > 0) {
    problems.push(
      `unknown column(s): ${unknown.map((c) => `"${c}"`).join(', ')} (columns are ${COLUMNS.join(', ')})`,
    );
  }
  const repeated = columns.filter((c, n) => columns.indexOf(c) !== n);
  if (repeated.length > 0) problems.push(`column(s) given twice: ${[...new Set(repeated)].join(', ')}`);
  const missing = ['id', 'username'].filter((c) => !columns.includes(c));
  if (!columns.includes('host') && !columns.includes('provider')) missing.push('host (or provider)');
  if (!columns.includes('secretId') && !columns.includes(PASSWORD_COLUMN))
    missing.push('secretId (or password)');
  if (missing.length > 0) problems.push(`missing column(s): ${missing.join(', ')}`);
  return problems;
}

/** Problems as lines for stderr: at most `limit`, then "and N more". */
export function formatProblems(file: string, problems: readonly LineProblem[], limit = 20): string {
  const lines = problems.slice(0, limit).map((p) => `  ${file}:${p.line}: ${p.message}`);
  if (problems.length > limit) lines.push(`  and ${problems.length - limit} more`);
  return `${lines.join('\n')}\n`;
}

/** Records as CSV with every RECORD_KEYS column, sorted by id; what readMailboxCsv reads back. */
export function writeMailboxCsv(records: readonly MailboxRecord[]): string {
  const sorted = [...records].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  return formatCsv([
    [...RECORD_KEYS],
    ...sorted.map((r) => RECORD_KEYS.map((key) => (r[key] === undefined ? '' : String(r[key])))),
  ]);
}
