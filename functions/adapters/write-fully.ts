import { writeSync } from 'node:fs';

/**
 * Writes all of `bytes` at the file's position (its end, for a file opened with `a`). A short
 * write (a nearly full disk) is continued, so it cannot pass for a complete one; a write that
 * makes no progress at all fails with EIO instead of being retried for ever (write(2) returns 0
 * only where no more can be written, e.g. some special files).
 */
export function writeFullySync(fd: number, bytes: Uint8Array, path: string): void {
  for (let offset = 0; offset < bytes.length;) {
    const written = writeSync(fd, bytes, offset, bytes.length - offset);
    if (written <= 0) {
      throw Object.assign(new Error(`EIO: no bytes could be written to ${path}`), {
        code: 'EIO',
        path,
        syscall: 'write',
        detail: 'no bytes could be written',
      });
    }
    offset += written;
  }
}
