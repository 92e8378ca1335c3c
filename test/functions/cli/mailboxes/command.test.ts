import {
  CloudFormationClient,
  CloudFormationServiceException,
  DescribeStacksCommand,
} from '@aws-sdk/client-cloudformation';
import {
  BatchWriteItemCommand,
  DynamoDBClient,
  GetItemCommand,
  ScanCommand,
  UpdateItemCommand,
  type AttributeValue,
} from '@aws-sdk/client-dynamodb';
import {
  CreateSecretCommand,
  GetSecretValueCommand,
  ListSecretsCommand,
  PutSecretValueCommand,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import { SHARED_SECRET_MAX_BYTES, SHARED_SECRET_TAG } from '../../../../functions/adapters/shared-secret';
import { mailboxes } from '../../../../functions/cli/mailboxes/command';
import type { MailboxesIo } from '../../../../functions/cli/mailboxes/context';
import { encodeRecord, type MailboxRecord } from '../../../../functions/registry/record';

const ddb = mockClient(DynamoDBClient);
const sm = mockClient(SecretsManagerClient);
const cfn = mockClient(CloudFormationClient);

const STACK = 'MailStack';
const TABLE = 'MailStack-RegistryTable-ABC';
const PREFIX = 'pop3-poller/MailStack/';
/** Distinctive, so a test can tell whether any output carries a password. */
const LEAK = 'hunter2';

interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

async function run(args: string[], files: Record<string, string> = {}, stdin = ''): Promise<Run> {
  let stdout = '';
  let stderr = '';
  const io: MailboxesIo = {
    stdout: { write: (text: string) => (stdout += text) },
    stderr: { write: (text: string) => (stderr += text) },
    readStdin: async () => stdin,
    readFile: (path) => {
      if (!(path in files)) throw Object.assign(new Error('no such file'), { code: 'ENOENT' });
      return files[path]!;
    },
    clients: {
      dynamodb: () => new DynamoDBClient({ region: 'eu-west-1' }),
      secretsManager: () => new SecretsManagerClient({ region: 'eu-west-1' }),
      cloudFormation: () => new CloudFormationClient({ region: 'eu-west-1' }),
    },
  };
  const code = await mailboxes(args, io);
  return { code, stdout, stderr };
}

/** The stack's outputs; `groups`: its ScheduleGroups output (absent: a stack from before it). */
function stackHasOutputs(groups?: readonly string[]): void {
  cfn.on(DescribeStacksCommand).resolves({
    Stacks: [
      {
        StackName: STACK,
        CreationTime: new Date(),
        StackStatus: 'UPDATE_COMPLETE',
        Outputs: [
          { OutputKey: 'PollerRegistryTableName6F1C2A3B', OutputValue: TABLE },
          { OutputKey: 'PollerSecretNamePrefix0D9E8F7A', OutputValue: PREFIX },
          { OutputKey: 'PollerArchiveBucketName11223344', OutputValue: 'bucket' },
          ...(groups
            ? [{ OutputKey: 'PollerScheduleGroups5A6B7C8D', OutputValue: JSON.stringify(groups) }]
            : []),
          { OutputKey: 'PollerScheduleGroupName99AA88BB', OutputValue: 'PollerScheduleGroup-XYZ' },
        ],
      },
    ],
  });
}

function noCommandsSent(): void {
  expect(ddb.calls()).toHaveLength(0);
  expect(sm.calls()).toHaveLength(0);
  expect(cfn.calls()).toHaveLength(0);
}

/** Secret name → document, as CreateSecret and PutSecretValue last wrote it. */
function writtenSecrets(): Map<string, string> {
  const out = new Map<string, string>();
  for (const call of sm.commandCalls(CreateSecretCommand))
    out.set(call.args[0].input.Name!, call.args[0].input.SecretString!);
  for (const call of sm.commandCalls(PutSecretValueCommand))
    out.set(call.args[0].input.SecretId!, call.args[0].input.SecretString!);
  return out;
}

/** Id → the `record` JSON the UpdateItem calls wrote. */
function writtenRecords(): Map<string, MailboxRecord> {
  const out = new Map<string, MailboxRecord>();
  for (const call of ddb.commandCalls(UpdateItemCommand)) {
    const input = call.args[0].input;
    const id = input.Key!.id!.S!;
    out.set(id, { id, ...JSON.parse(input.ExpressionAttributeValues![':record']!.S!) });
  }
  return out;
}

function item(
  record: MailboxRecord,
  extra: Record<string, AttributeValue> = {},
): Record<string, AttributeValue> {
  return { id: { S: record.id }, record: { S: encodeRecord(record) }, ...extra };
}

beforeEach(() => {
  ddb.reset();
  sm.reset();
  cfn.reset();
  ddb.on(UpdateItemCommand).resolves({});
  ddb.on(BatchWriteItemCommand).resolves({});
  sm.on(CreateSecretCommand).resolves({});
  sm.on(PutSecretValueCommand).resolves({});
});

describe('pop3-poller mailboxes import', () => {
  const id = (n: number) => `m${String(n).padStart(4, '0')}`;
  /** 120 characters, different per mailbox, with characters JSON escapes. */
  const password = (n: number) => `${LEAK}"\\${id(n)}`.padEnd(120, 'x');

  function fleetCsv(): string {
    const lines = ['id,host,username,port,tls,mode,secretId,password'];
    for (let n = 1; n <= 1000; n++) {
      // Every 100th mailbox has a secret of its own; the others a password.
      const own = n % 100 === 0;
      const pw = own ? '' : `"${password(n).replace(/"/g, '""')}"`;
      lines.push(
        `${id(n)},pop.example.com,${id(n)}@example.com,995,implicit,${n % 2 ? 'keep' : ''},${own ? `pop3/own/${id(n)}` : ''},${pw}`,
      );
    }
    return `${lines.join('\r\n')}\r\n`;
  }

  it('validates 1,000 rows, fills shared secrets within 60,000 bytes and points each record at its secret', async () => {
    stackHasOutputs();
    const existing = { mailboxes: { other: { password: 'kept' }, m0005: { password: 'old' } } };
    sm.on(ListSecretsCommand).resolves({
      SecretList: [
        { Name: `${PREFIX}shared-0001` },
        // Scheduled for deletion: its name cannot be taken again.
        { Name: `${PREFIX}shared-0002`, DeletedDate: new Date() },
        // Under the prefix and tagged, but not a name the CLI gives: left alone.
        { Name: `${PREFIX}shared-notes` },
      ],
    });
    sm.on(GetSecretValueCommand, { SecretId: `${PREFIX}shared-0001` }).resolves({
      SecretString: JSON.stringify(existing),
    });

    const result = await run(['import', 'fleet.csv', '--stack', STACK], { 'fleet.csv': fleetCsv() });

    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toBe(
      '1000 mailboxes validated; 1000 written; 3 shared secrets updated (2 created)\n',
    );

    // CloudFormation: once.
    expect(cfn).toHaveReceivedCommandTimes(DescribeStacksCommand, 1);
    expect(cfn).toHaveReceivedCommandWith(DescribeStacksCommand, { StackName: STACK });

    // Secrets Manager: one list, one read, one update, two creations.
    expect(sm).toHaveReceivedCommandTimes(ListSecretsCommand, 1);
    expect(sm.commandCalls(ListSecretsCommand)[0]!.args[0].input).toEqual({
      Filters: [
        { Key: 'tag-key', Values: [SHARED_SECRET_TAG] },
        { Key: 'name', Values: [`${PREFIX}shared-`] },
      ],
      IncludePlannedDeletion: true,
      MaxResults: 100,
    });
    expect(sm).toHaveReceivedCommandTimes(GetSecretValueCommand, 1);
    expect(sm).toHaveReceivedCommandTimes(PutSecretValueCommand, 1);
    expect(sm).toHaveReceivedCommandTimes(CreateSecretCommand, 2);
    expect(sm.commandCalls(CreateSecretCommand).map((c) => c.args[0].input.Name)).toEqual([
      `${PREFIX}shared-0003`,
      `${PREFIX}shared-0004`,
    ]);
    for (const call of sm.commandCalls(CreateSecretCommand)) {
      expect(call.args[0].input.Tags).toEqual([{ Key: SHARED_SECRET_TAG, Value: 'true' }]);
      expect(call.args[0].input.Description).toMatch(/pop3-poller/);
    }
    const secrets = writtenSecrets();
    const holder = new Map<string, string>();
    for (const [name, text] of secrets) {
      expect(Buffer.byteLength(text)).toBeLessThanOrEqual(SHARED_SECRET_MAX_BYTES);
      for (const [key, value] of Object.entries((JSON.parse(text) as { mailboxes: object }).mailboxes)) {
        expect(holder.has(key)).toBe(false);
        holder.set(key, name);
        if (key !== 'other') expect(value).toEqual({ password: password(Number(key.slice(1))) });
      }
    }
    expect(holder.size).toBe(990 + 1);
    // The existing entries stay where they were: m0005 replaced in place, "other" untouched.
    expect(holder.get('m0005')).toBe(`${PREFIX}shared-0001`);
    expect(JSON.parse(secrets.get(`${PREFIX}shared-0001`)!).mailboxes.other).toEqual({ password: 'kept' });

    // DynamoDB: one UpdateItem per record (keeping lastPoll), no BatchWriteItem, no Scan.
    expect(ddb).toHaveReceivedCommandTimes(UpdateItemCommand, 1000);
    expect(ddb).not.toHaveReceivedCommand(BatchWriteItemCommand);
    expect(ddb).not.toHaveReceivedCommand(ScanCommand);
    for (const call of ddb.commandCalls(UpdateItemCommand)) expect(call.args[0].input.TableName).toBe(TABLE);
    const records = writtenRecords();
    expect(records.size).toBe(1000);
    for (let n = 1; n <= 1000; n++) {
      const r = records.get(id(n))!;
      expect(r).toEqual({
        id: id(n),
        host: 'pop.example.com',
        port: 995,
        tls: 'implicit',
        username: `${id(n)}@example.com`,
        secretId: n % 100 === 0 ? `pop3/own/${id(n)}` : holder.get(id(n)),
        ...(n % 2 ? { mode: 'keep' } : {}),
      });
    }
    expect(JSON.stringify(ddb.calls().map((c) => c.args[0].input))).not.toContain(LEAK);
  });

  it('writes no secret when the passwords are already there (importing the same file again)', async () => {
    stackHasOutputs();
    sm.on(ListSecretsCommand).resolves({ SecretList: [{ Name: `${PREFIX}shared-0001` }] });
    sm.on(GetSecretValueCommand).resolves({
      SecretString: JSON.stringify({ mailboxes: { a: { password: 'pw' } } }),
    });

    const result = await run(['import', 'f.csv', '--stack', STACK], {
      'f.csv': 'id,host,username,password\na,h,u,pw\n',
    });

    expect(result.stdout).toBe('1 mailboxes validated; 1 written; 0 shared secrets updated\n');
    expect(sm).not.toHaveReceivedCommand(PutSecretValueCommand);
    expect(sm).not.toHaveReceivedCommand(CreateSecretCommand);
    expect(writtenRecords().get('a')!.secretId).toBe(`${PREFIX}shared-0001`);
  });

  it('with bad lines 17 and 503, names them and sends no command at all', async () => {
    const lines = fleetCsv().split('\r\n');
    lines[16] = lines[16]!.replace(',995,', ',99999,');
    lines[502] = lines[502]!.replace('pop.example.com', '');
    const result = await run(['import', 'fleet.csv', '--stack', STACK], { 'fleet.csv': lines.join('\r\n') });

    expect(result.code).toBe(2);
    expect(result.stderr).toBe(
      'pop3-poller mailboxes: fleet.csv: 2 bad line(s); nothing written\n' +
        '  fleet.csv:17: port must be an integer from 1 to 65535\n' +
        '  fleet.csv:503: needs "host" (or "provider")\n',
    );
    expect(result.stdout).toBe('');
    noCommandsSent();
  });

  it('--dry-run validates without any AWS call', async () => {
    const result = await run(['import', 'fleet.csv', '--dry-run'], { 'fleet.csv': fleetCsv() });
    expect(result).toEqual({
      code: 0,
      stdout:
        '1000 mailboxes validated (990 with a password for the shared secrets); dry run: nothing written\n',
      stderr: '',
    });
    noCommandsSent();
  });

  it('needs --secret-prefix with --table when rows have passwords, before any AWS call', async () => {
    const result = await run(['import', 'f.csv', '--table', TABLE], {
      'f.csv': 'id,host,username,password\na,h,u,pw\n',
    });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/give --secret-prefix PREFIX/);
    noCommandsSent();
  });

  it('says so when the stack does not exist, or lacks an output', async () => {
    cfn.on(DescribeStacksCommand).rejects(
      new CloudFormationServiceException({
        name: 'ValidationError',
        $fault: 'client',
        $metadata: { httpStatusCode: 400 },
        message: 'Stack with id Nope does not exist',
      }),
    );
    const csv = { 'f.csv': 'id,host,username,secretId\na,h,u,s\n' };
    let result = await run(['import', 'f.csv', '--stack', 'Nope', '--region', 'eu-west-1'], csv);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/^pop3-poller mailboxes: stack "Nope" not found in eu-west-1/);

    cfn.on(DescribeStacksCommand).resolves({
      Stacks: [{ StackName: STACK, CreationTime: new Date(), StackStatus: 'CREATE_COMPLETE', Outputs: [] }],
    });
    result = await run(['import', 'f.csv', '--stack', STACK], csv);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/stack "MailStack" has no RegistryTableName output/);
    expect(ddb.calls()).toHaveLength(0);
  });

  it('exits 1 when AWS fails, naming the secret, never a password', async () => {
    stackHasOutputs();
    sm.on(ListSecretsCommand).resolves({ SecretList: [] });
    sm.on(CreateSecretCommand).rejects(Object.assign(new Error('denied'), { name: 'AccessDeniedException' }));
    const result = await run(['import', 'f.csv', '--stack', STACK], {
      'f.csv': `id,host,username,password\na,h,u,${LEAK}\n`,
    });
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(
      `pop3-poller mailboxes: creating shared secret "${PREFIX}shared-0001" failed: AccessDeniedException: denied\n`,
    );
    expect(ddb.calls()).toHaveLength(0);
  });
});

describe('pop3-poller mailboxes add', () => {
  it('takes the password from stdin only, puts it in a shared secret and the record points there', async () => {
    stackHasOutputs();
    sm.on(ListSecretsCommand).resolves({});

    const result = await run(
      [
        'add',
        '--stack',
        STACK,
        '--id',
        'new',
        '--host',
        'pop.example.com',
        '--username',
        'new@example.com',
        '--port',
        '995',
        '--password-stdin',
      ],
      {},
      `${LEAK}\n`,
    );

    expect(result).toEqual({
      code: 0,
      stdout: `mailbox new written; its password is in shared secret ${PREFIX}shared-0001\n`,
      stderr: '',
    });
    expect(sm.commandCalls(CreateSecretCommand)[0]!.args[0].input.SecretString).toBe(
      JSON.stringify({ mailboxes: { new: { password: LEAK } } }),
    );
    expect(writtenRecords().get('new')).toEqual({
      id: 'new',
      host: 'pop.example.com',
      port: 995,
      username: 'new@example.com',
      secretId: `${PREFIX}shared-0001`,
    });
  });

  it('refuses a password on the command line, and a bad record, with exit 2 and no AWS call', async () => {
    let result = await run(['add', '--stack', STACK, '--id', 'a', '--password', LEAK]);
    expect(result.code).toBe(2);
    expect(result.stderr).not.toContain(LEAK);

    result = await run([
      'add',
      '--stack',
      STACK,
      '--id',
      'a',
      '--host',
      'h',
      '--username',
      'u',
      '--secret-id',
      's',
      '--port',
      'x',
    ]);
    expect(result).toEqual({
      code: 2,
      stdout: '',
      stderr: 'pop3-poller mailboxes: mailbox not added:\n  port must be an integer\n',
    });
    noCommandsSent();
  });
});

describe('pop3-poller mailboxes: schedules the stack has no group for', () => {
  const GROUPS = ['default', 'business-hours'];
  const addArgs = (target: string[], schedule: string) => [
    'add',
    ...target,
    '--id',
    'sales',
    '--host',
    'pop.example.com',
    '--username',
    'sales@example.com',
    '--secret-id',
    'pop3/sales',
    '--schedule',
    schedule,
  ];

  it('add --stack refuses one, in one line naming the mailbox and the groups, writing nothing', async () => {
    stackHasOutputs(GROUPS);
    const result = await run(addArgs(['--stack', STACK], 'nightly'));
    expect(result).toEqual({
      code: 2,
      stdout: '',
      stderr:
        'pop3-poller mailboxes: mailbox sales not added: schedule "nightly" is not a schedule group of ' +
        'stack "MailStack" (its groups: default, business-hours)\n',
    });
    expect(cfn).toHaveReceivedCommandTimes(DescribeStacksCommand, 1);
    expect(ddb.calls()).toHaveLength(0);
    expect(sm.calls()).toHaveLength(0);
  });

  it('add --stack takes a group the stack has', async () => {
    stackHasOutputs(GROUPS);
    const result = await run(addArgs(['--stack', STACK], 'business-hours'));
    expect(result).toEqual({ code: 0, stdout: 'mailbox sales written\n', stderr: '' });
    expect(writtenRecords().get('sales')).toMatchObject({ schedule: 'business-hours' });
  });

  it('add --table cannot know the groups, and accepts any', async () => {
    const result = await run(addArgs(['--table', TABLE], 'nightly'));
    expect(result).toEqual({ code: 0, stdout: 'mailbox sales written\n', stderr: '' });
    expect(writtenRecords().get('sales')).toMatchObject({ schedule: 'nightly' });
    expect(cfn.calls()).toHaveLength(0);
  });

  it('add --stack with a stack from before the ScheduleGroups output writes, with a note', async () => {
    stackHasOutputs();
    const result = await run(addArgs(['--stack', STACK], 'nightly'));
    expect(result).toEqual({
      code: 0,
      stdout: 'mailbox sales written\n',
      stderr:
        'pop3-poller mailboxes: note: stack "MailStack" has no ScheduleGroups output (deployed by an older ' +
        'version): schedule groups not checked\n',
    });
  });

  it('import --stack names every such line, with the groups, and writes nothing (not even secrets)', async () => {
    stackHasOutputs(GROUPS);
    const csv =
      'id,host,username,password,schedule\n' +
      `a,pop.example.com,a@example.com,${LEAK},business-hours\n` +
      `b,pop.example.com,b@example.com,${LEAK},nightly\n` +
      `c,pop.example.com,c@example.com,${LEAK},\n` +
      `d,pop.example.com,d@example.com,${LEAK},Default\n`;
    const result = await run(['import', 'fleet.csv', '--stack', STACK], { 'fleet.csv': csv });
    expect(result).toEqual({
      code: 2,
      stdout: '',
      stderr:
        'pop3-poller mailboxes: fleet.csv: 2 mailbox(es) name a schedule group that stack "MailStack" does not ' +
        'have (its groups: default, business-hours); nothing written\n' +
        '  fleet.csv:3: b: schedule "nightly"\n' +
        '  fleet.csv:5: d: schedule "Default"\n',
    });
    expect(cfn).toHaveReceivedCommandTimes(DescribeStacksCommand, 1);
    expect(ddb.calls()).toHaveLength(0);
    expect(sm.calls()).toHaveLength(0);
  });

  it('import --stack writes a file whose schedules are all groups of the stack', async () => {
    stackHasOutputs(GROUPS);
    const csv = 'id,host,username,secretId,schedule\na,h,u,s,business-hours\nb,h,u,s,\n';
    const result = await run(['import', 'fleet.csv', '--stack', STACK], { 'fleet.csv': csv });
    expect(result).toEqual({
      code: 0,
      stdout: '2 mailboxes validated; 2 written; 0 shared secrets updated\n',
      stderr: '',
    });
    expect(writtenRecords().get('a')).toMatchObject({ schedule: 'business-hours' });
    expect(writtenRecords().get('b')).not.toHaveProperty('schedule');
  });

  it('refuses a ScheduleGroups output that is not a JSON array of names', async () => {
    cfn.on(DescribeStacksCommand).resolves({
      Stacks: [
        {
          StackName: STACK,
          CreationTime: new Date(),
          StackStatus: 'UPDATE_COMPLETE',
          Outputs: [
            { OutputKey: 'PollerRegistryTableName6F1C2A3B', OutputValue: TABLE },
            { OutputKey: 'PollerSecretNamePrefix0D9E8F7A', OutputValue: PREFIX },
            { OutputKey: 'PollerScheduleGroups5A6B7C8D', OutputValue: 'default' },
          ],
        },
      ],
    });
    const result = await run(addArgs(['--stack', STACK], 'default'));
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(
      /^pop3-poller mailboxes: stack "MailStack" has a ScheduleGroups output that is not a JSON array of names\n/,
    );
    expect(ddb.calls()).toHaveLength(0);
  });
});

describe('pop3-poller mailboxes remove', () => {
  it('deletes the items, then the entries in the CLI’s shared secrets', async () => {
    const shared = `${PREFIX}shared-0001`;
    ddb
      .on(GetItemCommand)
      .resolves({})
      .on(GetItemCommand, { Key: { id: { S: 'a' } } })
      .resolves({ Item: item({ id: 'a', host: 'h', username: 'u', secretId: shared }) })
      .on(GetItemCommand, { Key: { id: { S: 'own' } } })
      .resolves({ Item: item({ id: 'own', host: 'h', username: 'u', secretId: 'pop3/own' }) });
    sm.on(GetSecretValueCommand).resolves({
      SecretString: JSON.stringify({ mailboxes: { a: { password: LEAK }, b: { password: 'pw' } } }),
    });

    const result = await run(['remove', 'a', 'own', 'zz', '--table', TABLE, '--secret-prefix', PREFIX]);

    expect(result).toEqual({
      code: 0,
      stdout: '2 mailbox(es) removed; 1 shared secret entry removed; not registered: zz\n',
      stderr: '',
    });
    expect(ddb.commandCalls(BatchWriteItemCommand).map((c) => c.args[0].input)).toEqual([
      {
        RequestItems: {
          [TABLE]: [
            { DeleteRequest: { Key: { id: { S: 'a' } } } },
            { DeleteRequest: { Key: { id: { S: 'own' } } } },
          ],
        },
      },
    ]);
    expect(sm.commandCalls(GetSecretValueCommand).map((c) => c.args[0].input.SecretId)).toEqual([shared]);
    expect(sm.commandCalls(PutSecretValueCommand).map((c) => c.args[0].input)).toEqual([
      { SecretId: shared, SecretString: JSON.stringify({ mailboxes: { b: { password: 'pw' } } }) },
    ]);
    expect(sm).not.toHaveReceivedCommand(ListSecretsCommand);
  });
});

describe('pop3-poller mailboxes list and export', () => {
  const records: MailboxRecord[] = [
    {
      id: 'b',
      host: 'pop.example.com',
      username: 'b@example.com',
      secretId: `${PREFIX}shared-0001`,
      schedule: 'hourly',
    },
    {
      id: 'a',
      provider: 'gmail',
      username: 'recent:a@gmail.com',
      secretId: 'pop3/a',
      mode: 'keep',
      deleteAfterDays: 30,
      enabled: false,
    },
  ];
  const lastPoll = { at: '2025-03-01T12:00:00.000Z', status: 'failed', code: 'EAUTH' };

  beforeEach(() => {
    ddb
      .on(ScanCommand)
      .resolvesOnce({
        Items: [item(records[0]!, { lastPoll: { S: JSON.stringify(lastPoll) } })],
        LastEvaluatedKey: { id: { S: 'b' } },
      })
      .resolvesOnce({
        Items: [
          item(records[1]!),
          { id: { S: 'cfg' }, lastPoll: { S: JSON.stringify({ ...lastPoll, status: 'ok' }) } },
          { id: { S: 'bad' }, record: { S: '{}' } },
        ],
      });
  });

  it('list prints one line per item, with the last poll', async () => {
    const result = await run(['list', '--table', TABLE]);
    expect(result.code).toBe(0);
    expect(result.stdout.split('\n')).toEqual([
      'ID   HOST              USERNAME            MODE    SCHEDULE  LAST POLL',
      'a    gmail             recent:a@gmail.com  keep    -         never polled',
      'b    pop.example.com   b@example.com       delete  hourly    2025-03-01T12:00:00.000Z failed EAUTH',
      'bad  (invalid record)                                        never polled; "username" is required; "secretId" is required',
      'cfg  (stack config)                                          2025-03-01T12:00:00.000Z ok EAUTH',
      '',
    ]);
    expect(ddb).toHaveReceivedCommandTimes(ScanCommand, 2);
  });

  it('list --stack marks a schedule the stack has no group for, and counts them on stderr', async () => {
    stackHasOutputs(['default', 'daily']);
    const result = await run(['list', '--stack', STACK]);
    expect(result.code).toBe(0);
    expect(result.stdout.split('\n').slice(0, 3)).toEqual([
      'ID   HOST              USERNAME            MODE    SCHEDULE                LAST POLL',
      'a    gmail             recent:a@gmail.com  keep    -                       never polled',
      'b    pop.example.com   b@example.com       delete  hourly (no such group)  2025-03-01T12:00:00.000Z failed EAUTH',
    ]);
    expect(result.stderr).toBe(
      'pop3-poller mailboxes: 1 mailbox(es) name a schedule group that stack "MailStack" does not have ' +
        '(its groups: default, daily), so they are never polled: marked (no such group)\n',
    );
  });

  it('list --json --stack sets scheduleUnknown on such entries only', async () => {
    stackHasOutputs(['default', 'daily']);
    const json = await run(['list', '--json', '--stack', STACK]);
    const lines = json.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { id: string; scheduleUnknown?: boolean });
    expect(lines.filter((l) => l.scheduleUnknown === true).map((l) => l.id)).toEqual(['b']);
  });

  it('list --json prints one entry per line', async () => {
    const result = await run(['list', '--json', '--table', TABLE]);
    const lines = result.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { id: string });
    expect(lines.map((l) => l.id)).toEqual(['a', 'b', 'bad', 'cfg']);
    expect(lines[1]).toEqual({ id: 'b', record: records[0], lastPoll });
  });

  it('export → import round-trips the records', async () => {
    const exported = await run(['export', '--table', TABLE]);
    expect(exported.code).toBe(1); // the invalid item is named and skipped
    expect(exported.stderr).toMatch(/^pop3-poller mailboxes: skipped bad: /);
    expect(exported.stdout.split('\r\n')[0]).toBe(
      'id,provider,host,port,tls,username,secretId,secretKey,mode,deleteAfterDays,authMethod,certificateSha256,maxMessages,maxBytes,schedule,enabled',
    );

    ddb.reset();
    ddb.on(UpdateItemCommand).resolves({});
    const imported = await run(['import', 'export.csv', '--table', TABLE], { 'export.csv': exported.stdout });

    expect(imported).toEqual({
      code: 0,
      stdout: '2 mailboxes validated; 2 written; 0 shared secrets updated\n',
      stderr: '',
    });
    expect(sm.calls()).toHaveLength(0);
    const written = ddb.commandCalls(UpdateItemCommand).map((c) => c.args[0].input);
    expect(new Map(written.map((w) => [w.Key!.id!.S, w.ExpressionAttributeValues![':record']!.S]))).toEqual(
      new Map(records.map((r) => [r.id, encodeRecord(r)])),
    );
  });
});

describe('pop3-poller mailboxes usage', () => {
  it('documents every command with --help, and rejects an unknown one with exit 2', async () => {
    const help = await run(['--help']);
    expect(help.code).toBe(0);
    for (const word of [
      'add',
      'remove',
      'list',
      'import',
      'export',
      '--stack',
      '--table',
      '--secret-prefix',
      '--region',
      '--password-stdin',
      '--dry-run',
      '--json',
      'ScheduleGroups',
      'no such group',
    ]) {
      expect(help.stdout).toContain(word);
    }
    expect((await run(['import', '--help'])).code).toBe(0);
    const unknown = await run(['rename', '--stack', STACK]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/unknown mailboxes command "rename"/);
    const both = await run(['list', '--stack', STACK, '--table', TABLE]);
    expect(both.code).toBe(2);
    expect((await run(['list'])).stderr).toMatch(/needs --stack NAME/);
    noCommandsSent();
  });
});
