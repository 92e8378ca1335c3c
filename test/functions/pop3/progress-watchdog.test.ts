import { MIN_PROGRESS_OCTETS, ProgressWatchdog } from '../../../functions/pop3/progress-watchdog';

describe('Class: ProgressWatchdog', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  function watch(periodMs = 100) {
    const stalls: number[] = [];
    const watchdog = new ProgressWatchdog(periodMs, (octets) => stalls.push(octets));
    watchdog.start();
    return { watchdog, stalls };
  }

  it('reports a period in which fewer than MIN_PROGRESS_OCTETS arrived and nothing completed', () => {
    const { watchdog, stalls } = watch();
    jest.advanceTimersByTime(100); // the first period counts from start: progress by definition
    watchdog.received(10);
    jest.advanceTimersByTime(100);
    expect(stalls).toEqual([10]);
    watchdog.stop();
  });

  it('does not report a period with enough octets, a completed reply, or a command sent', () => {
    const { watchdog, stalls } = watch();
    jest.advanceTimersByTime(100);
    watchdog.received(MIN_PROGRESS_OCTETS);
    jest.advanceTimersByTime(100);
    watchdog.received(3);
    watchdog.progress();
    jest.advanceTimersByTime(100);
    expect(stalls).toEqual([]);
    watchdog.stop();
  });

  it('stops reporting once stopped', () => {
    const { watchdog, stalls } = watch();
    watchdog.stop();
    jest.advanceTimersByTime(1000);
    expect(stalls).toEqual([]);
  });
});
