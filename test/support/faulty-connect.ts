import type { Socket } from 'node:net';
import { Pop3Client, Pop3Error, type MessageStream, type Pop3ClientOptions } from '../../functions/pop3';

/**
 * A `PollDependencies.connect` that opens a real session (`Pop3Client.connect`) and hands the
 * workflow a wrapped client, so that a test can make the POP3 side fail where a real server will
 * not fail on demand: a DELE refused, the connection dropped right after a given RETR, QUIT lost.
 * It also records, per session, which commands the workflow issued, so a test can say exactly
 * which messages were requested and marked.
 */

/** What a fault hook may do to the session it runs in. */
export interface SessionControl {
  /**
   * Destroys the TCP (TLS) socket under the client, as a network failure would: the client sees
   * the connection close (ECONNECTION) and the server sees the session end without QUIT, so it
   * removes nothing (RFC 1939 §6).
   */
  dropConnection(): void;
  readonly client: Pop3Client;
}

export interface ClientFaults {
  /** Extra client options (e.g. `localAddress`) for the session opened for `options`. */
  options?(options: Pop3ClientOptions): Partial<Pop3ClientOptions>;
  /** Called as RETR of `messageNumber` is issued (before it goes out). */
  beforeRetr?(messageNumber: number, session: SessionControl): void;
  /** Called once the message's bytes have been read to the end (its stream ended). */
  afterRetr?(messageNumber: number, session: SessionControl): void;
  /** Return an error to make DELE of `messageNumber` reject without being sent. */
  dele?(messageNumber: number, session: SessionControl): Error | undefined;
  /** Called once the server has accepted DELE of `messageNumber`. */
  afterDele?(messageNumber: number, session: SessionControl): void;
  /**
   * What happens at QUIT: `send` (default) sends it; `reject` rejects without sending it (the
   * workflow then drops the session); `drop` drops the connection and then sends it (it fails).
   */
  quit?: 'send' | 'reject' | 'drop';
}

export interface SessionRecord {
  /** RETRs issued, in order. */
  readonly retr: number[];
  /** RETRs whose message was read to its end. */
  readonly retrCompleted: number[];
  /** DELEs the server accepted (each is undone unless QUIT succeeds). */
  readonly dele: number[];
  /** DELEs that failed (by a fault, or because the session was gone). */
  readonly deleFailed: number[];
  quit: 'not sent' | 'ok' | 'failed';
  dropped: boolean;
}

export class FaultyConnector {
  /** Sessions that logged in, in order. */
  readonly sessions: SessionRecord[] = [];
  /** Every login attempted, in order, and whether it succeeded. */
  readonly logins: Array<{ readonly username: string; readonly ok: boolean }> = [];

  constructor(private readonly faults: ClientFaults = {}) {}

  /** Pass as `PollDependencies.connect`. */
  readonly connect = async (options: Pop3ClientOptions): Promise<Pop3Client> => {
    let client: Pop3Client;
    try {
      client = await Pop3Client.connect({ ...options, ...this.faults.options?.(options) });
    } catch (error) {
      this.logins.push({ username: options.auth.username, ok: false });
      throw error;
    }
    this.logins.push({ username: options.auth.username, ok: true });
    const record: SessionRecord = {
      retr: [],
      retrCompleted: [],
      dele: [],
      deleFailed: [],
      quit: 'not sent',
      dropped: false,
    };
    this.sessions.push(record);
    const session: SessionControl = {
      client,
      dropConnection: () => {
        record.dropped = true;
        // The client keeps its socket private; reaching it here is the one liberty this helper
        // takes. Destroying it is what a reset connection looks like to the client.
        (Reflect.get(client, 'socket') as Socket).destroy();
      },
    };
    return wrapClient(client, record, session, this.faults);
  };
}

function wrapClient(
  client: Pop3Client,
  record: SessionRecord,
  session: SessionControl,
  faults: ClientFaults,
): Pop3Client {
  const retr = (messageNumber: number): Promise<MessageStream> => {
    record.retr.push(messageNumber);
    faults.beforeRetr?.(messageNumber, session);
    const stream = client.retr(messageNumber);
    void stream.then(
      (s) =>
        s.once('end', () => {
          record.retrCompleted.push(messageNumber);
          faults.afterRetr?.(messageNumber, session);
        }),
      () => undefined,
    );
    return stream;
  };
  const dele = async (messageNumber: number): Promise<void> => {
    const injected = faults.dele?.(messageNumber, session);
    if (injected) {
      record.deleFailed.push(messageNumber);
      throw injected;
    }
    try {
      await client.dele(messageNumber);
      record.dele.push(messageNumber);
      faults.afterDele?.(messageNumber, session);
    } catch (error) {
      record.deleFailed.push(messageNumber);
      throw error;
    }
  };
  const quit = async (): Promise<void> => {
    if (faults.quit === 'reject') {
      record.quit = 'failed';
      throw new Pop3Error('ECONNECTION', 'connection lost before QUIT (injected)', { command: 'QUIT' });
    }
    if (faults.quit === 'drop') session.dropConnection();
    try {
      await client.quit();
      record.quit = 'ok';
    } catch (error) {
      record.quit = 'failed';
      throw error;
    }
  };
  const overrides: Record<string | symbol, unknown> = { retr, dele, quit };
  return new Proxy(client, {
    get(target, property) {
      if (property in overrides) return overrides[property];
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
}
