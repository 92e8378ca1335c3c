import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { config as shippedConfig } from '../../infra/config';
import { addNagChecks } from '../../infra/nag';
import type { Pop3PollerProps } from '../../infra/props';
import { e2eDeployment } from '../../scripts/e2e/settings';
import { buildStack, MINIMAL, testApp } from '../support/cdk-app';

/**
 * cdk-nag's AWS Solutions checks over several deployments: synth must pass with every finding
 * either fixed or acknowledged with a written reason (the same `addNagChecks` as infra/app.ts).
 */

interface Violation {
  ruleName: string;
  severity: string;
  violatingConstructs: Array<{ constructPath: string }>;
  acknowledgedId?: string;
  reason?: string;
}

interface Report {
  pluginReports: Array<{
    pluginName: string;
    conclusion: string;
    violations: Violation[];
    suppressedViolations?: Violation[];
  }>;
}

const DEPLOYMENTS: ReadonlyArray<[string, Pop3PollerProps]> = [
  ['the shipped example (infra/config.ts)', shippedConfig],
  ['a minimal one', MINIMAL],
  [
    'one with every option on',
    {
      accounts: [
        { id: 'support', secret: 'create' },
        { id: 'sales', secret: 'mail/sales', mode: 'keep', deleteAfterDays: 30 },
        { id: 'billing', secret: 'arn:aws:secretsmanager:eu-west-1:111122223333:secret:mail/billing-AbCdEf' },
      ],
      secretKmsKeyArns: ['arn:aws:kms:eu-west-1:111122223333:key/0a1b2c3d-0000-1111-2222-333344445555'],
      archive: {
        encryption: 'customer-managed',
        objectLock: { mode: 'compliance', retentionDays: 2555 },
        lifecycle: { deepArchiveAfterDays: 365, expireAfterDays: 3650 },
      },
      alarms: { emails: ['ops@example.com'], topicArn: 'arn:aws:sns:eu-west-1:111122223333:pager' },
      network: { vpc: 'new', staticEgressIp: true, natGateways: 2 },
      worker: { reservedConcurrency: 40, maxConcurrency: 40 },
    },
  ],
  [
    'one in an existing VPC on the default bus',
    {
      ...MINIMAL,
      eventBus: { type: 'default', exampleRule: false, archiveRetentionDays: 0 },
      network: {
        vpc: 'existing',
        vpcId: 'vpc-0123456789abcdef0',
        privateSubnetIds: ['subnet-0123456789abcdef0'],
        availabilityZones: ['eu-west-1a'],
      },
      dashboard: false,
    },
  ],
  [
    'one with 60 secrets granted by prefix',
    {
      accounts: Array.from({ length: 60 }, (_, i) => ({ id: `m${i}`, secret: `tenants/m${i}` })),
      secretNamePrefix: 'tenants/',
    },
  ],
  [
    'one with SES inbound into the archive bucket',
    {
      ...MINIMAL,
      archive: { encryption: 'customer-managed' },
      sesInbound: { recipients: { 'support@example.com': 'support' }, domains: ['example.com'] },
    },
  ],
  [
    'one with SES inbound from an existing bucket with its own key',
    {
      ...MINIMAL,
      sesInbound: {
        bucket: 'my-mail-bucket',
        prefix: 'inbound/',
        bucketKmsKeyArn: 'arn:aws:kms:eu-west-1:111122223333:key/0a1b2c3d-0000-1111-2222-333344445555',
      },
    },
  ],
  [
    'the end-to-end test deployment (scripts/aws-e2e.ts)',
    e2eDeployment('Pop3E2E-abcdefghij', undefined).poller,
  ],
];

function synthWithNag(props: Pop3PollerProps, acknowledge = true): Report {
  const app = testApp();
  const stack = buildStack(props, app);
  if (acknowledge) addNagChecks(app, [stack.poller]);
  else Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  app.synth();
  return JSON.parse(readFileSync(join(app.outdir, 'validation-report.json'), 'utf8')) as Report;
}

describe('cdk-nag AwsSolutions checks', () => {
  it.each(DEPLOYMENTS)('pass for %s, every acknowledgement with a reason', (_name, props) => {
    const report = synthWithNag(props);
    const nag = report.pluginReports.find((r) => r.pluginName === 'AwsSolutions');
    expect(nag).toBeDefined();
    expect(nag!.violations).toEqual([]);
    expect(nag!.conclusion).toBe('success');
    for (const suppressed of nag!.suppressedViolations ?? []) {
      expect(suppressed.acknowledgedId).toMatch(/^AwsSolutions::AwsSolutions-/);
      expect(suppressed.reason?.length).toBeGreaterThan(40);
    }
    // Other reports (CloudFormation's own rules, construct annotations): no error, and no warning
    // but the one this stack means to give.
    const others = report.pluginReports.flatMap((r) => r.violations);
    expect(others.filter((v) => v.severity !== 'warning')).toEqual([]);
    for (const warning of others)
      expect(warning.ruleName).toBe('Annotation::Pop3Poller:ObjectLockKeepModeState');
  });

  it('acknowledges only what it must: wildcards it cannot avoid, rotation, and DLQ-shaped queues', () => {
    const report = synthWithNag(DEPLOYMENTS[2]![1]);
    const acknowledged = report.pluginReports
      .flatMap((r) => r.suppressedViolations ?? [])
      .map((v) => v.acknowledgedId!.replace(/<[A-Za-z0-9]+(\.Arn)?>/g, '<X>'))
      .sort();
    expect(acknowledged).toEqual(
      [
        'AwsSolutions::AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole]',
        'AwsSolutions::AwsSolutions-IAM5[Resource::<X>/mail/*]',
        'AwsSolutions::AwsSolutions-IAM5[Resource::<X>/state/*]',
        'AwsSolutions::AwsSolutions-IAM5[Resource::<X>:*]',
        // Created secrets and the CLI's shared secrets for registry mailboxes.
        'AwsSolutions::AwsSolutions-IAM5[Resource::arn:aws:secretsmanager:eu-west-1:111122223333:secret:pop3-poller/Pop3Poller/*]',
        // worker.runtime is nodejs22.x or nodejs24.x by configuration; aws-cdk-lib knows of newer.
        'AwsSolutions::AwsSolutions-L1',
        'AwsSolutions::AwsSolutions-L1',
        'AwsSolutions::AwsSolutions-SMG4',
        'AwsSolutions::AwsSolutions-SQS3',
        'AwsSolutions::AwsSolutions-SQS3',
      ].sort(),
    );
  });

  it('fails synth without the acknowledgements, naming each finding', () => {
    expect(() => synthWithNag(MINIMAL, false)).toThrow(
      /AwsSolutions::AwsSolutions-IAM5\[Resource::<PollerArchiveBucket[0-9A-F]+\.Arn>\/mail\/\*\]/,
    );
    expect(() => synthWithNag(MINIMAL, false)).toThrow(/AwsSolutions::AwsSolutions-SMG4/);
  });
});
