import { closeSync, openSync, readFileSync, renameSync, unlinkSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { localPathError } from '../adapters/errors';
import { fsyncInPool } from '../adapters/fsync';
import { writeFullySync } from '../adapters/write-fully';
import { parseState, type ReplayState } from '../replay/checkpoint';
import { ReplayError } from '../replay/errors';
import type { CheckpointStore } from '../replay/ports';

/**
 * The replay's state file (`--state`, replay/checkpoint.ts says what it holds). Each save writes a
 * whole new file beside it, fsyncs it, renames it over the old one and fsyncs the directory, so the
 * file is always one complete state — the last saved — even after a hard kill or a crash.
 */
export class ReplayStateFile implements CheckpointStore {
  private state: ReplayState;

  constructor(
    readonly path: string,
    initial: ReplayState,
  ) {
    this.state = initial;
  }

  static read(path: string): ReplayState {
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (error) {
      throw new ReplayError('ESTATE', localPathError('replay state file', path, error).message, {
        cause: error,
      });
    }
    return parseState(text, path);
  }

  get current(): ReplayState {
    return this.state;
  }

  save(key: string): Promise<void> {
    return this.write({ checkpoint: key });
  }

  /** Rewrites the file with `changes` applied (and `updatedAt` now). */
  async write(changes: Partial<Pick<ReplayState, 'checkpoint' | 'emitted' | 'complete'>>): Promise<void> {
    const next: ReplayState = { ...this.state, ...changes, updatedAt: new Date().toISOString() };
    const temp = join(dirname(this.path), `.${basename(this.path)}.${process.pid}.tmp`);
    try {
      const fd = openSync(temp, 'w', 0o600);
      try {
        writeFullySync(fd, Buffer.from(`${JSON.stringify(next, null, 2)}\n`), temp);
        await fsyncInPool(fd);
      } finally {
        closeSync(fd);
      }
      renameSync(temp, this.path);
      const dir = openSync(dirname(this.path), 'r');
      try {
        await fsyncInPool(dir);
      } finally {
        closeSync(dir);
      }
    } catch (error) {
      try {
        unlinkSync(temp);
      } catch {
        // not created, or renamed already
      }
      const local = localPathError('replay state file', this.path, error);
      throw new ReplayError('ESTATE', local.message, { cause: error, retryable: local.retryable });
    }
    this.state = next;
  }
}
