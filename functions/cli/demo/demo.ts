import { randomBytes, randomUUID } from 'node:crypto';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DirectoryArchiveStore } from '../../adapters/directory-archive-store';
import { FileSeenStore } from '../../adapters/file-seen-store';
import { JsonLinesEventSink } from '../../adapters/jsonl-event-sink';
import { StaticCredentials } from '../../adapters/static-credentials';
import { checkWritableDirectory } from '../../adapters/writable-path';
import type { MessageArchivedDetail, PollEvent } from '../../poller/events';
import { pollAccounts } from '../../poller/poll-accounts';
import type { EventSink } from '../../poller/ports';
import { reportLocalPathError } from '../local-paths';
import { exitCode, formatBytes, formatResults } from '../report';
import { startDemoServer } from './demo-server';
import { sampleMessages } from './sample-mail';
import { makeSelfSignedCertificate } from './self-signed';

/**
 * `pop3-poller demo`: the whole product on one machine with nothing else installed. A local POP3
 * server (in this process) holds sample mail; the poller logs in over STLS with certificate
 * verification, archives each message into `<output>/archive`, appends events to
 * `<output>/events.jsonl`, and deletes what it archived. The same code path as a real poll.
 *
 * An output directory that cannot be written is found first, before the server starts: one line
 * naming it and the OS error, exit 2 (75 for a full disk), as `poll` does (local-paths.ts).
 */
export async function runDemo(outputDir: string): Promise<number> {
  const out = resolve(outputDir);
  try {
    await checkWritableDirectory('demo output directory', out);
  } catch (error) {
    const code = reportLocalPathError(error);
    if (code === undefined) throw error;
    return code;
  }
  const certificate = makeSelfSignedCertificate();
  const password = randomBytes(12).toString('base64url');
  const messages = sampleMessages();
  const server = await startDemoServer({ username: 'demo', password, messages, certificate });
  const write = (text: string) => process.stdout.write(text);
  try {
    write(`Local POP3 server on 127.0.0.1:${server.port} with ${messages.length} sample messages (STLS).\n`);
    const fileSink = new JsonLinesEventSink({ file: join(out, 'events.jsonl') });
    const archived: Array<PollEvent<MessageArchivedDetail>> = [];
    const events: EventSink = {
      publish: async (batch) => {
        const outcome = await fileSink.publish(batch);
        const failed = new Set(outcome.failedIds);
        for (const e of batch) {
          if (e.detailType === 'Message Archived' && !failed.has(e.id))
            archived.push(e as PollEvent<MessageArchivedDetail>);
        }
        return outcome;
      },
    };
    const results = await pollAccounts(
      [
        {
          id: 'demo',
          host: '127.0.0.1',
          port: server.port,
          tls: 'starttls',
          username: 'demo',
          caPem: certificate.certPem,
        },
      ],
      {
        credentials: new StaticCredentials({ demo: { password } }),
        archive: new DirectoryArchiveStore({ dir: join(out, 'archive') }),
        events,
        seen: new FileSeenStore(join(out, '.state')),
      },
      { runId: randomUUID() },
    );
    write(`\n${formatResults(results)}\n`);
    for (const { detail } of archived) {
      const file = relative(process.cwd(), fileURLToPath(detail.location));
      write(`  ${detail.subject ?? '(no subject)'}\n`);
      write(
        `    from ${detail.from ? `${detail.from.name} <${detail.from.address}>` : '(unknown)'}, ${formatBytes(detail.size)}\n`,
      );
      if (detail.attachments?.length) {
        write(
          `    attachments: ${detail.attachments.map((a) => `${a.filename ?? '(unnamed)'} (${a.mimeType}, ${formatBytes(a.size)})`).join(', ')}\n`,
        );
      }
      write(`    → ${file}\n`);
    }
    write(`\nEvents appended to ${relative(process.cwd(), join(out, 'events.jsonl'))}; `);
    write(`${server.remaining()} message(s) left on the server.\n`);
    return exitCode(results);
  } finally {
    await server.close();
  }
}
