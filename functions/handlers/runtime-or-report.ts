import type { Logger } from '@aws-lambda-powertools/logger';
import { describeFailure } from '../poller/errors';

/**
 * A handler's runtime, made on its first invocation from the environment (`get` reads and
 * validates it once). A bad configuration is logged as an ERROR needing attention, with the
 * failure's code and message only (describeFailure: no values), and thrown again, so that every
 * invocation fails clearly until the configuration is fixed.
 */
export function runtimeOrReport<T>(get: () => T, logger: Pick<Logger, 'error'>, message: string): T {
  try {
    return get();
  } catch (error) {
    logger.error(message, { failure: describeFailure(error), needsAttention: true });
    throw error;
  }
}
