import { ArnFormat, CfnOutput, Fn, RemovalPolicy, SecretValue, Stack } from 'aws-cdk-lib';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import type { Construct } from 'constructs';
import type { ResolvedConfig } from '../validation';

/** The placeholder a created secret starts with; the stack never rewrites it while this is unchanged. */
const SECRET_PLACEHOLDER = { host: '', port: '995', tls: 'implicit', username: '', password: '' };

/**
 * The account secrets: the placeholders created for `secret: 'create'` accounts (retained: typed-in
 * credentials outlive the stack), and the ARNs the worker may read — every secret named under
 * `secretNamePrefix` (created ones, and the shared secrets the CLI creates for registry mailboxes),
 * plus each referenced secret outside it.
 */
export class Secrets {
  readonly created: readonly secretsmanager.Secret[];
  /** What the worker may call GetSecretValue on (ARNs; `-??????` matches a name's random suffix). */
  readonly resources: readonly string[];

  constructor(scope: Construct, config: ResolvedConfig) {
    const created: secretsmanager.Secret[] = [];
    for (const ref of config.secrets) {
      if (ref.kind !== 'create') continue;
      created.push(
        new secretsmanager.Secret(scope, `Secret-${ref.accountId}`, {
          secretName: ref.secretId,
          description: `POP3 credentials of account "${ref.accountId}": JSON {host, port, tls, username, password}`,
          // A placeholder, not a secret: the user replaces it with the real values.
          secretObjectValue: Object.fromEntries(
            Object.entries(SECRET_PLACEHOLDER).map(([k, v]) => [k, SecretValue.unsafePlainText(v)]),
          ),
          // Credentials typed in by hand outlive the stack; delete them yourself when done.
          removalPolicy: RemovalPolicy.RETAIN,
        }),
      );
    }
    this.created = created;
    this.resources = secretResources(scope, config);

    new CfnOutput(scope, 'SecretNamePrefix', {
      description:
        'Secrets named under this prefix are readable by the worker (the CLI names shared secrets here)',
      value: config.secretNamePrefix,
    });
    if (created.length > 0) {
      new CfnOutput(scope, 'SecretsToFill', {
        description:
          'Secrets created empty: put each account\'s {"host","port","tls","username","password"} in',
        value: config.secrets
          .filter((ref) => ref.kind === 'create')
          .map((ref) => ref.secretId)
          .join(', '),
      });
      new CfnOutput(scope, 'CreatedSecretArns', {
        description:
          'ARNs of the created secrets, in the order of SecretsToFill (retained on stack deletion)',
        value: Fn.join(
          ', ',
          created.map((secret) => secret.secretArn),
        ),
      });
    }
  }
}

function secretResources(scope: Construct, config: ResolvedConfig): string[] {
  const stack = Stack.of(scope);
  const secretArn = (name: string): string =>
    stack.formatArn({
      service: 'secretsmanager',
      resource: 'secret',
      resourceName: name,
      arnFormat: ArnFormat.COLON_RESOURCE_NAME,
    });
  const prefix = config.secretNamePrefix;
  // Created secrets and the CLI's shared secrets are all named under the prefix.
  const resources = [secretArn(`${prefix}*`)];
  if (!config.grantSecretsByPrefix) {
    for (const ref of config.secrets) {
      if (ref.kind === 'name' && !ref.secretId.startsWith(prefix)) {
        resources.push(secretArn(`${ref.secretId}-??????`));
      }
      // A complete ARN ends in the random suffix, a partial one does not; one of these matches.
      if (ref.kind === 'arn') resources.push(ref.secretId, `${ref.secretId}-??????`);
    }
  }
  return [...new Set(resources)];
}
