import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * Temp directories that do not outlive the tests that made them.
 *
 * Jest gives every test file its own module registry, so module-level state in test/support (this
 * file's list, the certificate cache) lives for one test file; and a `process.on('exit')` inside a
 * test file never fires (the sandbox's `process` is a copy). So under jest the clean-up is a
 * root-level `afterAll`, registered when the module is loaded (at the top of the test file), and
 * outside jest (benchmarks, scripts that import these helpers) it is a process 'exit' hook.
 */

type AfterAll = (fn: () => void | Promise<void>) => void;

/**
 * Runs `afterFile` once the current test file is done, or `atExit` (by default `afterFile`, which
 * must then be synchronous) when the process exits where there is no jest. Call it at module
 * level, never inside a test or hook.
 */
export function whenDone(afterFile: () => void | Promise<void>, atExit?: () => void): void {
  const afterAll = (globalThis as { afterAll?: AfterAll }).afterAll;
  if (typeof afterAll === 'function') afterAll(afterFile);
  else process.once('exit', atExit ?? (() => void afterFile()));
}

/** Removes a temp directory and everything in it; a missing one is fine. */
export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
}

const dirs = new Set<string>();

/** A fresh directory under the OS temp dir, removed when this test file (or process) is done. */
export function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  dirs.add(dir);
  return dir;
}

/** Removes the directories made by `tempDir` so far (also done when the test file is done). */
export function removeTempDirs(): void {
  for (const dir of dirs) removeDir(dir);
  dirs.clear();
}

whenDone(removeTempDirs);
