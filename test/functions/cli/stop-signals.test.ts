import { stopOnSignals } from '../../../functions/cli/stop-signals';

/**
 * The handlers run in this process: `process.emit` delivers a signal to them without the OS, and
 * `process.exit` is replaced by a throw, so that the second signal's exit can be observed and, as
 * a real exit, ends the handler there.
 */
describe('stopOnSignals', () => {
  let written: string[];
  const stderr = { write: (text: string) => written.push(text) };
  let exit: jest.SpiedFunction<typeof process.exit>;

  beforeEach(() => {
    written = [];
    exit = jest.spyOn(process, 'exit').mockImplementation((code) => {
      throw new Error(`exit ${String(code)}`);
    });
  });
  afterEach(() => exit.mockRestore());

  it('the first signal aborts and says what is finished; the second exits at once with 130 and its note', () => {
    const stop = stopOnSignals({
      stderr,
      live: false,
      finishing: 'finishing the messages in flight',
      onExit: () => 'unfinished messages stay on the server',
    });
    try {
      process.emit('SIGINT', 'SIGINT');
      expect(stop.signal.aborted).toBe(true);
      expect(exit).not.toHaveBeenCalled();
      expect(written).toEqual([
        'pop3-poller: SIGINT: finishing the messages in flight, then stopping (SIGINT again to exit at once)\n',
      ]);
      expect(() => process.emit('SIGINT', 'SIGINT')).toThrow('exit 130');
      expect(written[1]).toBe(
        '\npop3-poller: SIGINT again: exiting now; unfinished messages stay on the server\n',
      );
      expect(written).toHaveLength(2);
    } finally {
      stop.dispose();
    }
  });

  it('SIGTERM exits with 143; the note is read at the second signal, and none adds nothing; live clears the progress line', () => {
    let note: string | undefined;
    const stop = stopOnSignals({
      stderr,
      live: true,
      finishing: 'publishing the events in flight',
      onExit: () => note,
    });
    try {
      process.emit('SIGTERM', 'SIGTERM');
      expect(written[0]).toBe(
        '\r\x1b[Kpop3-poller: SIGTERM: publishing the events in flight, then stopping (SIGTERM again to exit at once)\n',
      );
      expect(() => process.emit('SIGTERM', 'SIGTERM')).toThrow('exit 143');
      expect(written[1]).toBe('\npop3-poller: SIGTERM again: exiting now\n');
      note = 'resume with: pop3-poller replay --resume /tmp/state.json';
      expect(() => process.emit('SIGTERM', 'SIGTERM')).toThrow('exit 143');
      expect(written[2]).toBe(
        '\npop3-poller: SIGTERM again: exiting now; resume with: pop3-poller replay --resume /tmp/state.json\n',
      );
      expect(written).toHaveLength(3);
    } finally {
      stop.dispose();
    }
  });

  it('dispose removes both handlers', () => {
    const before = [process.listenerCount('SIGINT'), process.listenerCount('SIGTERM')];
    const stop = stopOnSignals({ stderr, live: false, finishing: 'x' });
    expect([process.listenerCount('SIGINT'), process.listenerCount('SIGTERM')]).toEqual([
      before[0]! + 1,
      before[1]! + 1,
    ]);
    stop.dispose();
    expect([process.listenerCount('SIGINT'), process.listenerCount('SIGTERM')]).toEqual(before);
    expect(stop.signal.aborted).toBe(false);
  });
});
