import { Stack, Validations, type App } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { IConstruct } from 'constructs';
import type { Pop3Poller } from './pop3-poller';

/**
 * cdk-nag's AWS Solutions checks, run at synth (`npx cdk synth` fails on an unacknowledged
 * error), and the findings this deployment acknowledges, each on the one resource it concerns,
 * with the exact finding id and the reason.
 */
export function addNagChecks(app: App, pollers: readonly Pop3Poller[]): void {
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  for (const poller of pollers) acknowledgeFindings(poller);
}

/** A string as cdk-nag writes it in a finding id: references as `<LogicalId>` / `<LogicalId.Attr>`. */
function asNagWrites(scope: IConstruct, value: string): string {
  const render = (v: unknown): string => {
    if (typeof v === 'string') return v;
    const o = v as Record<string, unknown>;
    if (typeof o.Ref === 'string') return `<${o.Ref}>`;
    const getAtt = o['Fn::GetAtt'] as [string, string] | undefined;
    if (getAtt) return `<${getAtt[0]}.${getAtt[1]}>`;
    const join = o['Fn::Join'] as [string, unknown[]] | undefined;
    if (join) return join[1].map(render).join(join[0]);
    return JSON.stringify(v);
  };
  return render(Stack.of(scope).resolve(value));
}

export function acknowledgeFindings(poller: Pop3Poller): void {
  const config = poller.config;
  const ack = (scope: IConstruct, id: string, reason: string): void =>
    Validations.of(scope).acknowledge({ id, reason });

  for (const prefix of [config.archive.prefix, config.archive.statePrefix]) {
    const objects = asNagWrites(poller, poller.archiveBucket.arnForObjects(`${prefix}*`));
    ack(
      poller.worker.role!,
      `AwsSolutions::AwsSolutions-IAM5[Resource::${objects}]`,
      `Object access is limited to the "${prefix}" prefix of the archive bucket. Object keys are ` +
        'content-addressed (<account>/<sha256>.eml) or per account (<account>.json), so they cannot be ' +
        'listed in the policy; a prefix is the narrowest scope S3 offers.',
    );
  }
  ack(
    poller.schedulerRole,
    `AwsSolutions::AwsSolutions-IAM5[Resource::${asNagWrites(poller, poller.dispatcher.functionArn)}:*]`,
    "CDK's grantInvoke (used by the Scheduler Lambda target) also covers the dispatcher's versions and " +
      'aliases (`:*`); the function has none, the schedules invoke it unqualified, and the role can be ' +
      "assumed only by EventBridge Scheduler for this stack's schedule group.",
  );
  for (const resource of poller.secretResources.map((r) => asNagWrites(poller, r))) {
    if (!resource.includes('*')) continue;
    ack(
      poller.worker.role!,
      `AwsSolutions::AwsSolutions-IAM5[Resource::${resource}]`,
      resource.endsWith(`secret:${config.secretNamePrefix}*`)
        ? `The worker reads the secrets named under "${config.secretNamePrefix}": those the stack creates, ` +
            'and the shared secrets the CLI creates for registry mailboxes (added after deployment, so they ' +
            'cannot be listed here)' +
            (config.grantSecretsByPrefix
              ? "; more than 50 secrets are referenced, too many to list within IAM's policy size limit, " +
                'and the configuration requires every one of them to be under this prefix.'
              : '. PutSecretValue on them is further limited to secrets tagged for token write-back.')
        : "Secrets Manager appends a random 6-character suffix to a secret's ARN; this matches that " +
            'suffix of one configured secret.',
    );
  }
  for (const secret of poller.createdSecrets) {
    ack(
      secret,
      'AwsSolutions::AwsSolutions-SMG4',
      'POP3 passwords are issued by the mail provider and can only be changed there: there is no API ' +
        'for a rotation Lambda to call. The secret is created as a placeholder for the user to fill in.',
    );
  }
  const ses = poller.sesInbound;
  if (ses) {
    const role = ses.role;
    ack(
      role,
      `AwsSolutions::AwsSolutions-IAM5[Resource::${asNagWrites(poller, ses.objectsArn)}]`,
      `The SES inbound handler reads (GetObject only) the objects under the "${config.sesInbound!.prefix}" prefix ` +
        "that SES's receipt rule writes; their keys are SES message ids, unknown in advance, so a prefix is " +
        'the narrowest scope S3 offers.',
    );
    ack(
      role,
      `AwsSolutions::AwsSolutions-IAM5[Resource::${asNagWrites(poller, poller.archiveBucket.arnForObjects(`${config.archive.prefix}*`))}]`,
      `The SES inbound handler writes archived messages under the "${config.archive.prefix}" prefix, as the ` +
        'worker does: keys are content-addressed (<account>/<sha256>.eml), so a prefix is the narrowest scope.',
    );
  }
  for (const fn of [poller.worker, poller.dispatcher, ...(ses ? [ses.function] : [])]) {
    ack(
      fn,
      'AwsSolutions::AwsSolutions-L1',
      `The runtime is chosen in the configuration (worker.runtime: ${config.worker.runtime}, nodejs22.x or ` +
        'nodejs24.x): the bundles rely on the AWS SDK v3 those runtimes provide and are tested on them. ' +
        'cdk-nag flags any runtime older than the newest aws-cdk-lib knows of.',
    );
  }
  ack(
    poller.dispatchDeadLetterQueue,
    'AwsSolutions::AwsSolutions-SQS3',
    "This queue is itself a dead-letter queue: of the dispatcher's asynchronous invocations (Lambda " +
      "on-failure destination) and of the schedules' target. cdk-nag only recognises SQS redrive DLQs.",
  );
  const sample = poller.node.tryFindChild('MessageArchivedSampleQueue');
  if (sample) {
    ack(
      sample,
      'AwsSolutions::AwsSolutions-SQS3',
      'Sample target of the example "Message Archived" rule, with no consumer: its messages expire after ' +
        '4 days. A real workflow target brings its own dead-letter handling.',
    );
  }
  if (poller.vpc && config.network.vpc !== 'none') {
    ack(
      poller.worker.role!,
      'AwsSolutions::AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole]',
      "The worker runs in a VPC: Lambda needs this AWS-maintained policy's ENI permissions " +
        '(ec2:CreateNetworkInterface and its Describe/Delete companions, which IAM cannot scope to resources).',
    );
  }
}
