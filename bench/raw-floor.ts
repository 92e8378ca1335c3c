/**
 * The raw pipelined floor (issue 12.4): the least a Node process can do to drain a POP3 mailbox
 * over implicit TLS, as a reference for bench/latency.ts. It waits only where POP3 makes a client
 * wait — for the greeting (RFC 1939 §4) and for each reply of the login (USER, then PASS: a client
 * cannot know it is in the TRANSACTION state before the +OK to PASS, §7) — and then sends every
 * other command in one write: STAT, UIDL, LIST, RETR 1..N, DELE 1..N, QUIT. It knows N in advance
 * (`--count`, a real client must learn it from STAT or LIST first), reads no capability, parses
 * nothing, stores nothing and discards every byte; it only checks that the login succeeded and
 * counts the bytes until the server closes after QUIT.
 *
 *   node dist/bench/raw-floor.js --host 127.0.0.1 --port N --ca FILE --user NAME --count N
 *   (password in BENCH_POP3_PASSWORD)
 *
 * Prints `{"bytes":B}` (bytes received after the login) and exits 0 once the server has closed
 * the connection; exits 1 on a failed login or a connection error. The harness (bench/clients.ts
 * runRawFloor) checks that the mailbox is empty afterwards, which the DELEs and QUIT did.
 */
import { readFileSync } from 'node:fs';
import { connect } from 'node:tls';
import { parseArgs } from 'node:util';

const { values: args } = parseArgs({
  options: {
    host: { type: 'string', default: '127.0.0.1' },
    port: { type: 'string' },
    ca: { type: 'string' },
    user: { type: 'string' },
    count: { type: 'string' },
  },
  strict: true,
});
const count = Number(args.count);
const password = process.env.BENCH_POP3_PASSWORD;
if (!args.port || !args.ca || !args.user || !Number.isInteger(count) || count < 0 || password === undefined) {
  process.stderr.write(
    'usage: raw-floor --port N --ca FILE --user NAME --count N (BENCH_POP3_PASSWORD set)\n',
  );
  process.exit(2);
}

/** Everything after the login, as one buffer: the whole transaction and QUIT. */
function transaction(n: number): Buffer {
  const lines = ['STAT', 'UIDL', 'LIST'];
  for (let i = 1; i <= n; i++) lines.push(`RETR ${i}`);
  for (let i = 1; i <= n; i++) lines.push(`DELE ${i}`);
  lines.push('QUIT');
  return Buffer.from(lines.join('\r\n') + '\r\n', 'latin1');
}

const socket = connect({ host: args.host, port: Number(args.port), ca: readFileSync(args.ca) });
const login = [`USER ${args.user}\r\n`, `PASS ${password}\r\n`];
let pending = Buffer.alloc(0);
let lineReplies = 0; // greeting, USER, PASS
let bytes = 0;

socket.on('data', (chunk: Buffer) => {
  if (lineReplies >= 3) {
    bytes += chunk.length;
    return;
  }
  pending = Buffer.concat([pending, chunk]);
  for (let lf = pending.indexOf(0x0a); lf !== -1 && lineReplies < 3; lf = pending.indexOf(0x0a)) {
    const line = pending.subarray(0, lf + 1).toString('latin1');
    pending = pending.subarray(lf + 1);
    if (!line.startsWith('+OK')) {
      process.stderr.write(
        `raw-floor: ${['greeting', 'USER', 'PASS'][lineReplies]} answered ${line.trim()}\n`,
      );
      process.exit(1);
    }
    lineReplies += 1;
    if (lineReplies < 3) socket.write(login[lineReplies - 1]!);
    else socket.write(transaction(count));
  }
  bytes += lineReplies >= 3 ? pending.length : 0;
});
socket.on('error', (error) => {
  process.stderr.write(`raw-floor: ${error.message}\n`);
  process.exit(1);
});
socket.on('close', () => {
  if (lineReplies < 3) {
    process.stderr.write('raw-floor: connection closed before the login completed\n');
    process.exit(1);
  }
  process.stdout.write(`${JSON.stringify({ bytes })}\n`);
});
