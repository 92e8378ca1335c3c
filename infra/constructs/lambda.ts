import * as path from 'node:path';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import type { NodejsFunctionProps } from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import { entryPath, lambdaBundling, PROJECT_ROOT, type EntryPoint } from '../bundling';
import { METRICS } from '../metrics';
import type { ResolvedConfig } from '../validation';

/** What the Lambdas share: runtime, bundling, logging, their own log group and role. */
export interface LambdaBase {
  readonly logGroup: logs.LogGroup;
  readonly role: iam.Role;
  readonly props: NodejsFunctionProps;
}

/**
 * Creates `<Name>LogGroup` and `<Name>Role` in `scope` (`<Name>`: the entry point in PascalCase),
 * and the props every Lambda of the poller starts from: Node.js on ARM64, the bundling of infra/bundling.ts, JSON logs at the configured
 * level. Lambda sets AWS_LAMBDA_LOG_LEVEL from `applicationLogLevelV2`, which Powertools Logger
 * uses in preference to POWERTOOLS_LOG_LEVEL (that variable is therefore not set: one source of
 * truth). The system level WARN drops the platform START/END/REPORT lines, a large part of the
 * log bytes of a short invocation.
 */
export function lambdaBase(
  scope: Construct,
  name: EntryPoint,
  service: string,
  config: ResolvedConfig,
  environment: Record<string, string>,
): LambdaBase {
  // `ses-inbound` → `SesInbound`: construct ids, and so logical ids, as before for the others.
  const title = name
    .split('-')
    .map((part) => part[0]!.toUpperCase() + part.slice(1))
    .join('');
  const logGroup = new logs.LogGroup(scope, `${title}LogGroup`, { retention: config.logRetentionDays });
  const role = lambdaRole(scope, `${title}Role`, logGroup, `Pop3Poller ${name}`);
  const props: NodejsFunctionProps = {
    entry: entryPath(name),
    handler: 'handler',
    runtime: config.worker.runtime === 'nodejs22.x' ? lambda.Runtime.NODEJS_22_X : lambda.Runtime.NODEJS_24_X,
    architecture: lambda.Architecture.ARM_64,
    projectRoot: PROJECT_ROOT,
    depsLockFilePath: path.join(PROJECT_ROOT, 'package-lock.json'),
    logGroup,
    role,
    loggingFormat: lambda.LoggingFormat.JSON,
    applicationLogLevelV2: lambda.ApplicationLogLevel[config.worker.logLevel],
    systemLogLevelV2: lambda.SystemLogLevel.WARN,
    bundling: lambdaBundling(),
    environment: {
      NODE_OPTIONS: '--enable-source-maps',
      POWERTOOLS_SERVICE_NAME: service,
      POWERTOOLS_METRICS_NAMESPACE: METRICS.namespace,
      ...environment,
    },
  };
  return { logGroup, role, props };
}

/** A Lambda role with only its own log group's write permissions (no managed policy). */
function lambdaRole(scope: Construct, id: string, logGroup: logs.LogGroup, what: string): iam.Role {
  const role = new iam.Role(scope, id, {
    assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
    description: `${what} (least privilege)`,
  });
  role.addToPolicy(
    new iam.PolicyStatement({
      sid: 'WriteOwnLogs',
      actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
      resources: [logGroup.logGroupArn],
    }),
  );
  return role;
}
