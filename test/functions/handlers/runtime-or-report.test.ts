import { ConfigError, readWorkerConfig } from '../../../functions/handlers/config';
import { runtimeOrReport } from '../../../functions/handlers/runtime-or-report';

describe('Function: runtimeOrReport', () => {
  it('returns the runtime and logs nothing when the configuration is good', () => {
    const error = jest.fn();
    expect(runtimeOrReport(() => ({ ready: true }), { error }, 'Worker configuration is invalid')).toEqual({
      ready: true,
    });
    expect(error).not.toHaveBeenCalled();
  });

  it('a bad configuration: one ERROR needing attention that names the variables, then the same error thrown', () => {
    const error = jest.fn();
    const read = () =>
      readWorkerConfig({ ARCHIVE_BUCKET: 'archive', SHARDS: 'not-a-number', EXTRA_CA_PEM: 'secret-ish' });
    let thrown: unknown;
    try {
      runtimeOrReport(read, { error }, 'Worker configuration is invalid');
    } catch (caught) {
      thrown = caught;
    }
    expect(thrown).toBeInstanceOf(ConfigError);
    expect(error).toHaveBeenCalledTimes(1);
    const [message, attributes] = error.mock.calls[0] as [string, Record<string, unknown>];
    expect(message).toBe('Worker configuration is invalid');
    expect(attributes).toEqual({
      failure: {
        code: 'EUNEXPECTED',
        message: (thrown as Error).message,
        retryable: true,
        needsAttention: true,
      },
      needsAttention: true,
    });
    expect((thrown as Error).message).toMatch(/EVENT_BUS_NAME is required/);
    expect((thrown as Error).message).toMatch(/SHARDS must be an integer from 1 to 1024/);
    // Values are never echoed.
    expect(JSON.stringify(attributes)).not.toContain('secret-ish');
    expect(JSON.stringify(attributes)).not.toContain('not-a-number');
  });
});
