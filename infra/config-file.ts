import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Pop3PollerProps } from './props';
import { Pop3PollerConfigError, resolveConfig } from './validation';

/**
 * An alternative to editing infra/config.ts: a JSON deployment file named on the command line,
 *
 *   npx cdk deploy -c configFile=path/to/deployment.json
 *
 * holding `{ "stackName": "…", "region"?: "…", "account"?: "…", "poller": { …Pop3PollerProps } }`.
 * Used by scripts/aws-e2e.ts to deploy a throw-away stack, and handy for several deployments from
 * one checkout. The file is checked as a whole before any construct is created: the envelope here,
 * `poller` by the construct's own `resolveConfig`, and every problem is listed at once.
 */

/** The CloudFormation stack: its name, and optionally where it goes (else the AWS profile's). */
export interface DeploymentSettings {
  readonly stackName: string;
  readonly region?: string;
  readonly account?: string;
}

export interface Deployment {
  readonly deployment: DeploymentSettings;
  readonly config: Pop3PollerProps;
}

/** The context key: `-c configFile=<path>`. */
export const CONFIG_FILE_CONTEXT = 'configFile';

export class DeploymentFileError extends Error {
  constructor(
    readonly file: string,
    readonly problems: readonly string[],
  ) {
    super(`Invalid deployment file ${file}:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'DeploymentFileError';
  }
}

/** CloudFormation's rule for stack names. */
const STACK_NAME = /^[A-Za-z][A-Za-z0-9-]{0,127}$/;
const REGION = /^[a-z]{2}(-[a-z]+)+-\d{1,2}$/;
const ACCOUNT = /^\d{12}$/;
const KEYS = new Set(['stackName', 'region', 'account', 'poller']);

/**
 * The deployment the app synthesizes: the file named by the `configFile` context value when there
 * is one, else the shipped one (infra/config.ts).
 */
export function selectDeployment(
  contextValue: unknown,
  shipped: Deployment,
  cwd = process.cwd(),
): Deployment {
  if (contextValue === undefined) return shipped;
  if (typeof contextValue !== 'string' || contextValue.trim() === '') {
    throw new DeploymentFileError(String(contextValue), [
      `the "${CONFIG_FILE_CONTEXT}" context value must be the path of a JSON file (-c ${CONFIG_FILE_CONTEXT}=path/to/deployment.json)`,
    ]);
  }
  return loadDeploymentFile(resolve(cwd, contextValue));
}

/** Reads and checks a deployment file; throws a `DeploymentFileError` listing every problem. */
export function loadDeploymentFile(file: string): Deployment {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'read error';
    throw new DeploymentFileError(file, [`cannot be read (${code})`]);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new DeploymentFileError(file, [`is not valid JSON: ${(error as Error).message}`]);
  }
  return parseDeployment(json, file);
}

/** Checks a parsed deployment file (`file` names it in messages). */
export function parseDeployment(json: unknown, file: string): Deployment {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new DeploymentFileError(file, [
      'must be a JSON object {"stackName", "region"?, "account"?, "poller"}',
    ]);
  }
  const o = json as Record<string, unknown>;
  const problems: string[] = [];
  for (const key of Object.keys(o)) {
    if (!KEYS.has(key)) problems.push(`"${key}" is not a known field (stackName, region, account, poller)`);
  }
  const { stackName, region, account, poller } = o;
  if (typeof stackName !== 'string' || !STACK_NAME.test(stackName)) {
    problems.push(
      'stackName is required: a letter, then up to 127 letters, digits and hyphens (CloudFormation stack name)',
    );
  }
  if (region !== undefined && (typeof region !== 'string' || !REGION.test(region))) {
    problems.push('region must be an AWS region such as "eu-west-1"');
  }
  if (account !== undefined && (typeof account !== 'string' || !ACCOUNT.test(account))) {
    problems.push('account must be a 12-digit AWS account id, as a string');
  }
  if (typeof poller !== 'object' || poller === null || Array.isArray(poller)) {
    problems.push('poller is required: an object with the Pop3Poller props (infra/props.ts)');
  } else {
    try {
      // The construct runs this again; here it reports the file's problems all together.
      // An unusable stack name is reported once, not again through the secret prefix derived from it.
      const name = typeof stackName === 'string' && STACK_NAME.test(stackName) ? stackName : 'Pop3Poller';
      resolveConfig(poller as Pop3PollerProps, name);
    } catch (error) {
      if (!(error instanceof Pop3PollerConfigError)) throw error;
      problems.push(...error.problems.map((p) => `poller: ${p}`));
    }
  }
  if (problems.length > 0) throw new DeploymentFileError(file, problems);
  return {
    deployment: {
      stackName: stackName as string,
      ...(region !== undefined ? { region: region as string } : {}),
      ...(account !== undefined ? { account: account as string } : {}),
    },
    config: poller as Pop3PollerProps,
  };
}
