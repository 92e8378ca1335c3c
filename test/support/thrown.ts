import { Pop3Error } from '../../functions/pop3/errors';

/** What `fn` throws; fails the test if it returns instead. */
export function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error('expected a throw, but the call returned');
}

/** The Pop3Error with code ECONFIG that `fn` throws (a refused argument or option). */
export function expectConfigError(fn: () => unknown): Pop3Error {
  const error = thrown(fn);
  expect(error).toBeInstanceOf(Pop3Error);
  expect((error as Pop3Error).code).toBe('ECONFIG');
  return error as Pop3Error;
}
