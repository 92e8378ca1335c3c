/**
 * Realistic test mail for the benchmarks: RFC 5322 headers, then CRLF text lines of 40–76 octets
 * with some 8-bit UTF-8 words, paragraph breaks and lines that begin with a dot (so the server must
 * dot-stuff them), padded to an exact size. Deterministic for a given index and size.
 */

const WORDS = (
  'the of and to in is that for it as was with be by on not he this are or his from at which but ' +
  'have an they you were her she there one all we their been has when who will more no if out so ' +
  'mailbox server message delivery archive poller retrieve bucket event queue invoice report meeting ' +
  'Grüße Straße für Übersicht naïve café résumé déjà façade señor niño Zürich Ærø smörgåsbord €100'
).split(' ');

/** A small deterministic PRNG (mulberry32). */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function headers(index: number, rand: () => number): string {
  const date = new Date(Date.UTC(2024, 0, 1) + index * 61_000).toUTCString().replace('GMT', '+0000');
  const id = Math.floor(rand() * 2 ** 48).toString(36);
  return [
    `Return-Path: <sender${index % 97}@example.org>`,
    `Received: from mx${index % 7}.example.org (mx${index % 7}.example.org [192.0.2.${index % 250}])`,
    `\tby pop.example.net (Postfix) with ESMTPS id ${id.toUpperCase()}`,
    `\tfor <alice@example.net>; ${date}`,
    `From: =?UTF-8?Q?J=C3=B6rg_M=C3=BCller?= <sender${index % 97}@example.org>`,
    'To: Alice <alice@example.net>',
    `Subject: Benchmark message ${index} =?UTF-8?Q?=C3=9Cbersicht?=`,
    `Date: ${date}`,
    `Message-ID: <bench.${index}.${id}@example.org>`,
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=utf-8',
    'Content-Transfer-Encoding: 8bit',
    '',
    '',
  ].join('\r\n');
}

/** One message of exactly `size` octets (at least the size of its headers plus a line). */
export function makeMessage(index: number, size: number): Buffer {
  const rand = random(index * 2654435761 + size);
  const head = Buffer.from(headers(index, rand), 'utf8');
  const parts: Buffer[] = [head];
  let length = head.length;
  // Leave room for a final ASCII line that makes the size exact.
  while (size - length > 160) {
    let line = '';
    const roll = rand();
    if (roll < 0.06) line = '';
    else {
      const target = 40 + Math.floor(rand() * 37);
      if (roll < 0.065) line = '.';
      while (Buffer.byteLength(line) < target) line += (line && line !== '.' ? ' ' : '') + pick(rand);
    }
    const bytes = Buffer.from(`${line}\r\n`, 'utf8');
    parts.push(bytes);
    length += bytes.length;
  }
  const rest = size - length;
  if (rest < 2) throw new Error(`message size ${size} is too small for its headers`);
  parts.push(Buffer.from(`${'-'.repeat(rest - 2)}\r\n`, 'ascii'));
  return Buffer.concat(parts, size);
}

function pick(rand: () => number): string {
  return WORDS[Math.floor(rand() * WORDS.length)]!;
}

export function makeMessages(count: number, size: number, first = 0): Buffer[] {
  return Array.from({ length: count }, (_, i) => makeMessage(first + i, size));
}
