import {
  ConfigError,
  readDispatcherConfig,
  readObservabilitySettings,
  readSesInboundConfig,
  readWorkerConfig,
} from '../../../functions/handlers/config';
import { ENV } from '../../../functions/handlers/contract';
import { parsePollJob } from '../../../functions/handlers/jobs';

const QUEUE_URL = 'https://sqs.eu-west-1.amazonaws.com/111122223333/pop3-jobs.fifo';
const MINIMAL = {
  [ENV.ARCHIVE_BUCKET]: 'mail-archive',
  [ENV.EVENT_BUS_NAME]: 'mail-events',
  [ENV.JOB_QUEUE_URL]: QUEUE_URL,
};
const CA = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';

function errorOf(fn: () => unknown): Error {
  try {
    fn();
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected a throw');
}

describe('Function: readWorkerConfig', () => {
  it('applies the documented defaults to a minimal environment', () => {
    expect(readWorkerConfig({ ...MINIMAL, UNRELATED: 'x' })).toEqual({
      archiveBucket: 'mail-archive',
      archivePrefix: '',
      archiveKmsKeyId: undefined,
      statePrefix: 'state/',
      eventBusName: 'mail-events',
      jobQueueUrl: QUEUE_URL,
      deadlineMarginSeconds: 30,
      maxFollowUps: 20,
      extraCaPem: undefined,
      registryTable: undefined,
      shards: 32,
      mailboxConcurrency: 50,
      summaryEvents: 'changes',
      secretCacheSeconds: 900,
    });
  });

  it('reads every variable', () => {
    expect(
      readWorkerConfig({
        ...MINIMAL,
        [ENV.ARCHIVE_PREFIX]: 'mail/',
        [ENV.ARCHIVE_KMS_KEY_ID]: 'alias/mail',
        [ENV.STATE_PREFIX]: 'keep/',
        [ENV.DEADLINE_MARGIN_SECONDS]: '45',
        [ENV.MAX_FOLLOW_UPS]: '0',
        [ENV.EXTRA_CA_PEM]: CA,
        [ENV.REGISTRY_TABLE]: 'mailboxes',
        [ENV.SHARDS]: '64',
        [ENV.MAILBOX_CONCURRENCY]: '10',
        [ENV.SUMMARY_EVENTS]: 'all',
        [ENV.SECRET_CACHE_SECONDS]: '0',
      }),
    ).toEqual({
      archiveBucket: 'mail-archive',
      archivePrefix: 'mail/',
      archiveKmsKeyId: 'alias/mail',
      statePrefix: 'keep/',
      eventBusName: 'mail-events',
      jobQueueUrl: QUEUE_URL,
      deadlineMarginSeconds: 45,
      maxFollowUps: 0,
      extraCaPem: CA,
      registryTable: 'mailboxes',
      shards: 64,
      mailboxConcurrency: 10,
      summaryEvents: 'all',
      secretCacheSeconds: 0,
    });
  });

  it('treats empty optional values as unset', () => {
    const config = readWorkerConfig({ ...MINIMAL, [ENV.ARCHIVE_KMS_KEY_ID]: '', [ENV.EXTRA_CA_PEM]: ' \n' });
    expect(config.archiveKmsKeyId).toBeUndefined();
    expect(config.extraCaPem).toBeUndefined();
  });

  it('names every missing variable in one error', () => {
    const error = errorOf(() => readWorkerConfig({}));
    expect(error).toBeInstanceOf(ConfigError);
    expect(error.message).toBe(
      'invalid configuration (environment variables): ARCHIVE_BUCKET is required; ' +
        'EVENT_BUS_NAME is required; JOB_QUEUE_URL is required',
    );
  });

  it.each([
    [{ [ENV.ARCHIVE_BUCKET]: '' }, 'ARCHIVE_BUCKET is empty'],
    [{ [ENV.JOB_QUEUE_URL]: 'pop3-jobs.fifo' }, 'JOB_QUEUE_URL must be a queue URL'],
    [
      { [ENV.JOB_QUEUE_URL]: 'https://sqs.eu-west-1.amazonaws.com/111122223333/pop3-jobs' },
      'JOB_QUEUE_URL must be the URL of a FIFO queue (ending in .fifo)',
    ],
    [{ [ENV.DEADLINE_MARGIN_SECONDS]: '30s' }, 'DEADLINE_MARGIN_SECONDS must be an integer from 0 to 899'],
    [{ [ENV.DEADLINE_MARGIN_SECONDS]: '900' }, 'DEADLINE_MARGIN_SECONDS must be an integer from 0 to 899'],
    [{ [ENV.MAX_FOLLOW_UPS]: '-1' }, 'MAX_FOLLOW_UPS must be an integer from 0 to 1000'],
    [{ [ENV.EXTRA_CA_PEM]: '/etc/ssl/ca.pem' }, 'EXTRA_CA_PEM must hold PEM certificate(s)'],
  ])('rejects %o with a message naming the variable', (override, message) => {
    const error = errorOf(() => readWorkerConfig({ ...MINIMAL, ...override }));
    expect(error).toBeInstanceOf(ConfigError);
    expect(error.message).toContain(message);
  });

  it('never echoes a value', () => {
    const error = errorOf(() =>
      readWorkerConfig({ ...MINIMAL, [ENV.EXTRA_CA_PEM]: 'do-not-echo-me', [ENV.MAX_FOLLOW_UPS]: 'nor-me' }),
    );
    expect(error.message).not.toContain('do-not-echo-me');
    expect(error.message).not.toContain('nor-me');
  });
});

describe('Function: readDispatcherConfig', () => {
  it('needs only the job queue', () => {
    expect(readDispatcherConfig({ [ENV.JOB_QUEUE_URL]: QUEUE_URL })).toEqual({
      jobQueueUrl: QUEUE_URL,
      registryTable: undefined,
      shards: 32,
      batchSize: 50,
      scheduleGroups: undefined,
    });
    expect(() => readDispatcherConfig({})).toThrow(
      'invalid configuration (environment variables): JOB_QUEUE_URL is required',
    );
  });

  it('reads the schedule group names, and refuses a malformed list', () => {
    const config = readDispatcherConfig({
      [ENV.JOB_QUEUE_URL]: QUEUE_URL,
      [ENV.SCHEDULE_GROUPS]: 'default, business-hours',
    });
    expect(config.scheduleGroups).toEqual(new Set(['default', 'business-hours']));
    expect(
      readDispatcherConfig({ [ENV.JOB_QUEUE_URL]: QUEUE_URL, [ENV.SCHEDULE_GROUPS]: '' }).scheduleGroups,
    ).toBeUndefined();
    expect(() =>
      readDispatcherConfig({ [ENV.JOB_QUEUE_URL]: QUEUE_URL, [ENV.SCHEDULE_GROUPS]: 'default,no spaces' }),
    ).toThrow('SCHEDULE_GROUPS must be comma-separated schedule group names ([A-Za-z0-9_-]{1,40})');
  });
});

describe('Function: readSesInboundConfig', () => {
  const SES_MINIMAL = {
    [ENV.ARCHIVE_BUCKET]: 'mail-archive',
    [ENV.EVENT_BUS_NAME]: 'mail-events',
    [ENV.SES_BUCKET]: 'inbound-mail',
  };

  it('applies the documented defaults to a minimal environment', () => {
    expect(readSesInboundConfig({ ...SES_MINIMAL, UNRELATED: 'x' })).toEqual({
      archiveBucket: 'mail-archive',
      archivePrefix: '',
      archiveKmsKeyId: undefined,
      eventBusName: 'mail-events',
      sesBucket: 'inbound-mail',
      sesPrefix: '',
      eventSource: 'ses',
      recipients: new Map(),
      unmapped: 'address',
      domains: new Set(),
      maxMessageBytes: 41_943_040,
    });
  });

  it('reads every variable, addresses and domains in lower case', () => {
    const config = readSesInboundConfig({
      ...SES_MINIMAL,
      [ENV.ARCHIVE_PREFIX]: 'mail/',
      [ENV.ARCHIVE_KMS_KEY_ID]: 'arn:aws:kms:eu-west-1:111122223333:key/k',
      [ENV.SES_PREFIX]: 'ses/',
      [ENV.SES_EVENT_SOURCE]: 'mail.ses',
      [ENV.SES_RECIPIENTS]: '{"Support@Example.com":"support","@example.org":"org"}',
      [ENV.SES_UNMAPPED]: 'skip',
      [ENV.SES_DOMAINS]: 'Example.com, example.net,',
      [ENV.SES_MAX_MESSAGE_BYTES]: '1048576',
    });
    expect(config).toMatchObject({
      archivePrefix: 'mail/',
      sesPrefix: 'ses/',
      eventSource: 'mail.ses',
      unmapped: 'skip',
      maxMessageBytes: 1_048_576,
    });
    expect([...config.recipients]).toEqual([
      ['support@example.com', 'support'],
      ['@example.org', 'org'],
    ]);
    expect([...config.domains]).toEqual(['example.com', 'example.net']);
  });

  it('names every bad variable in one error, without echoing values', () => {
    const error = errorOf(() =>
      readSesInboundConfig({
        [ENV.ARCHIVE_BUCKET]: 'mail-archive',
        [ENV.EVENT_BUS_NAME]: 'mail-events',
        [ENV.SES_EVENT_SOURCE]: 'aws.ses',
        [ENV.SES_RECIPIENTS]: '{"support@example.com":"bad id"}',
        [ENV.SES_UNMAPPED]: 'drop',
        [ENV.SES_DOMAINS]: 'exa mple.com',
        [ENV.SES_MAX_MESSAGE_BYTES]: '10',
      }),
    );
    expect(error).toBeInstanceOf(ConfigError);
    for (const part of [
      'SES_BUCKET is required',
      'SES_EVENT_SOURCE must be an event source',
      'SES_RECIPIENTS must map addresses or @domains to account ids',
      'SES_UNMAPPED must be address or skip',
      'SES_DOMAINS must be comma-separated domain names',
      'SES_MAX_MESSAGE_BYTES must be an integer from 1024 to 104857600',
    ]) {
      expect(error.message).toContain(part);
    }
    expect(error.message).not.toContain('bad id');
  });

  it.each([['[]'], ['"x"'], ['{']])('refuses SES_RECIPIENTS %s: not a JSON object', (value) => {
    expect(() => readSesInboundConfig({ ...SES_MINIMAL, [ENV.SES_RECIPIENTS]: value })).toThrow(
      'SES_RECIPIENTS must be a JSON object',
    );
  });
});

describe('Function: readObservabilitySettings', () => {
  it("defaults Powertools' service name and metrics namespace, and lets the environment set them", () => {
    expect(readObservabilitySettings({})).toEqual({ serviceName: 'pop3-poller', namespace: 'Pop3Poller' });
    expect(
      readObservabilitySettings({ POWERTOOLS_SERVICE_NAME: 'mail', POWERTOOLS_METRICS_NAMESPACE: 'Mail' }),
    ).toEqual({ serviceName: 'mail', namespace: 'Mail' });
  });
});

describe('Function: parsePollJob', () => {
  it('accepts a full job', () => {
    const job = {
      accountId: 'support.eu_1',
      secretId: 'arn:aws:secretsmanager:eu-west-1:111122223333:secret:pop3/support-AbCdEf',
      provider: 'gmail',
      mode: 'keep',
      deleteAfterDays: 30,
      maxMessages: 500,
      maxBytes: 100_000_000,
      followUp: 3,
    };
    expect(parsePollJob(JSON.stringify(job))).toEqual({ ok: true, value: job });
  });

  it.each([
    ['{', 'the message body is not JSON'],
    ['"support"', 'job must be a JSON object'],
    ['{"secretId":"s"}', 'job.accountId is required'],
    ['{"accountId":"a b","secretId":"s"}', 'job.accountId must be 1-64 characters of A-Z a-z 0-9 . _ -'],
    ['{"accountId":"a","secretId":"s","followUp":-1}', 'job.followUp must be an integer ≥ 0'],
    ['{"accountId":"a","secretId":"s","password":"x"}', 'job.password is not a known field'],
    ['{"accountId":"a","secretId":"s","provider":"yahoo"}', 'job.provider must be "gmail" or "outlook"'],
    [
      '{"accountId":"a","secretId":"s","deleteAfterDays":1}',
      'job has deleteAfterDays, which needs mode "keep"',
    ],
  ])('rejects %s', (body, problem) => {
    const parsed = parsePollJob(body);
    expect(parsed.ok).toBe(false);
    expect(!parsed.ok && parsed.problem).toContain(problem);
  });
});
