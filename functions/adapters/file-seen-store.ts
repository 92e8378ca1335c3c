import { open, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { SeenUidlStore } from '../poller/ports';
import { localPathError } from './errors';
import { makeDirectory } from './make-directory';
import { writeFullySync } from './write-fully';

/**
 * Keep-mode state on the local disk: per account, an append-only JSON-lines file of archived UIDLs
 * (`{"u": uidl, "t": iso-time}`) and forgotten ones (`{"f": uidl}`). Each `add` is appended and
 * fsync'd as messages complete, so an interrupted run keeps its progress. The file is compacted
 * when forgotten entries outnumber live ones.
 *
 * A file-system failure is thrown as a `LocalPathError` (code `ESTATE`, one line naming the state
 * directory and the OS error; retryable only for a full disk and the like): the workflow then keeps
 * the message on the server, and the next run fetches it again.
 */
export class FileSeenStore implements SeenUidlStore {
  constructor(private readonly dir: string) {}

  async seen(accountId: string, uidls: readonly string[]): Promise<ReadonlyMap<string, Date>> {
    const known = await this.guard(() => this.load(accountId));
    const out = new Map<string, Date>();
    for (const uidl of uidls) {
      const at = known.entries.get(uidl);
      if (at) out.set(uidl, at);
    }
    return out;
  }

  async add(accountId: string, uidls: readonly string[], at: Date): Promise<void> {
    const t = at.toISOString();
    await this.guard(() =>
      this.append(
        accountId,
        uidls.map((u) => JSON.stringify({ u, t })),
      ),
    );
  }

  async forget(accountId: string, uidls: readonly string[]): Promise<void> {
    if (uidls.length === 0) return;
    await this.guard(async () => {
      await this.append(
        accountId,
        uidls.map((f) => JSON.stringify({ f })),
      );
      const state = await this.load(accountId);
      if (state.lines > 2 * state.entries.size + 100) await this.compact(accountId, state.entries);
    });
  }

  /** Runs a file-system step, turning its failure into one line about the state directory. */
  private async guard<T>(step: () => Promise<T>): Promise<T> {
    try {
      return await step();
    } catch (error) {
      throw localPathError('keep-mode state directory', this.dir, error, 'ESTATE');
    }
  }

  private file(accountId: string): string {
    return join(this.dir, `${accountId}.seen.jsonl`);
  }

  private async load(accountId: string): Promise<{ entries: Map<string, Date>; lines: number }> {
    let text: string;
    try {
      text = await readFile(this.file(accountId), 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { entries: new Map(), lines: 0 };
      throw error;
    }
    const entries = new Map<string, Date>();
    let lines = 0;
    for (const line of text.split('\n')) {
      if (!line) continue;
      lines += 1;
      let record: { u?: string; t?: string; f?: string };
      try {
        record = JSON.parse(line) as typeof record;
      } catch {
        continue; // a torn last line from a crash mid-append: that UIDL is simply fetched again
      }
      if (record.u !== undefined && !entries.has(record.u)) entries.set(record.u, new Date(record.t ?? 0));
      if (record.f !== undefined) entries.delete(record.f);
    }
    return { entries, lines };
  }

  private async append(accountId: string, lines: readonly string[]): Promise<void> {
    if (lines.length === 0) return;
    await makeDirectory(this.dir);
    const file = this.file(accountId);
    const handle = await open(file, 'a', 0o600);
    try {
      // All of it or an error (a short write on a nearly full disk is continued, not dropped).
      writeFullySync(handle.fd, Buffer.from(`${lines.join('\n')}\n`, 'utf8'), file);
      await handle.sync();
    } finally {
      await handle.close();
    }
  }

  private async compact(accountId: string, entries: Map<string, Date>): Promise<void> {
    const tmp = `${this.file(accountId)}.${process.pid}.tmp`;
    const handle = await open(tmp, 'w', 0o600);
    try {
      try {
        const body = [...entries].map(([u, t]) => JSON.stringify({ u, t: t.toISOString() })).join('\n');
        writeFullySync(handle.fd, Buffer.from(body ? `${body}\n` : '', 'utf8'), tmp);
        await handle.sync();
      } finally {
        await handle.close();
      }
      await rename(tmp, this.file(accountId));
    } catch (error) {
      // A full disk mid-compaction: the appended file is still whole; drop the partial copy.
      await rm(tmp, { force: true });
      throw error;
    }
  }
}
