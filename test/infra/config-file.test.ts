import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { config as shippedConfig, deployment as shippedDeployment } from '../../infra/config';
import {
  DeploymentFileError,
  loadDeploymentFile,
  parseDeployment,
  selectDeployment,
  type Deployment,
} from '../../infra/config-file';
import { MINIMAL } from '../support/cdk-app';
import { tempDir } from '../support/temp';

/**
 * `-c configFile=path.json`: a deployment described in a JSON file instead of infra/config.ts,
 * checked as a whole (the envelope, and the poller props by the construct's own validation).
 */

const ROOT = join(__dirname, '..', '..');
const SHIPPED: Deployment = { deployment: shippedDeployment, config: shippedConfig };

function tempFile(name: string, content: string): string {
  const dir = tempDir('pop3-poller-config-file-');
  const file = join(dir, name);
  writeFileSync(file, content);
  return file;
}

function problemsOf(fn: () => unknown): readonly string[] {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(DeploymentFileError);
    return (error as DeploymentFileError).problems;
  }
  throw new Error('expected a DeploymentFileError');
}

describe('Deployment file (-c configFile=…)', () => {
  describe('selectDeployment', () => {
    it('is the shipped infra/config.ts without the context value', () => {
      expect(selectDeployment(undefined, SHIPPED)).toBe(SHIPPED);
    });

    it('loads the named file, a relative path against the working directory', () => {
      const file = tempFile('deployment.json', JSON.stringify({ stackName: 'Other', poller: MINIMAL }));
      const dir = join(file, '..');
      expect(selectDeployment('deployment.json', SHIPPED, dir)).toEqual({
        deployment: { stackName: 'Other' },
        config: MINIMAL,
      });
    });

    it.each([[''], ['  '], [42], [true]])('rejects %p as a path', (value) => {
      expect(problemsOf(() => selectDeployment(value, SHIPPED))).toEqual([
        expect.stringMatching(/the "configFile" context value must be the path of a JSON file/),
      ]);
    });
  });

  describe('loadDeploymentFile', () => {
    it('returns the stack settings and the poller props', () => {
      const file = tempFile(
        'd.json',
        JSON.stringify({
          stackName: 'Mail-Prod',
          region: 'eu-west-3',
          account: '111122223333',
          poller: MINIMAL,
        }),
      );
      expect(loadDeploymentFile(file)).toEqual({
        deployment: { stackName: 'Mail-Prod', region: 'eu-west-3', account: '111122223333' },
        config: MINIMAL,
      });
    });

    it('says when the file cannot be read', () => {
      const file = join(tmpdir(), 'pop3-poller-no-such-file.json');
      expect(() => loadDeploymentFile(file)).toThrow(
        `Invalid deployment file ${file}:\n  - cannot be read (ENOENT)`,
      );
    });

    it('says when the file is not JSON', () => {
      expect(problemsOf(() => loadDeploymentFile(tempFile('d.json', '{ stackName: ')))).toEqual([
        expect.stringMatching(/^is not valid JSON: /),
      ]);
    });
  });

  describe('parseDeployment', () => {
    it.each([[null], [[]], ['text'], [3]])('rejects %p as a whole', (json) => {
      expect(problemsOf(() => parseDeployment(json, 'f.json'))).toEqual([
        'must be a JSON object {"stackName", "region"?, "account"?, "poller"}',
      ]);
    });

    it('lists every problem of the envelope and of the poller props at once, prefixed', () => {
      const problems = problemsOf(() =>
        parseDeployment(
          {
            stackName: '9lives',
            region: 'Europe',
            account: 111122223333,
            extra: true,
            poller: {
              accounts: [
                { id: 'a', secret: 'create' },
                { id: 'a', secret: 'create' },
              ],
              logRetentionDays: 2,
            },
          },
          'f.json',
        ),
      );
      expect(problemsOf(() => parseDeployment({ poller: MINIMAL }, 'f.json'))).toEqual([
        expect.stringMatching(/^stackName is required/),
      ]);
      expect(problems).toEqual([
        '"extra" is not a known field (stackName, region, account, poller)',
        'stackName is required: a letter, then up to 127 letters, digits and hyphens (CloudFormation stack name)',
        'region must be an AWS region such as "eu-west-1"',
        'account must be a 12-digit AWS account id, as a string',
        'poller: account id "a" is used more than once',
        expect.stringMatching(/^poller: logRetentionDays \(2\) must be one of CloudWatch Logs' values/),
      ]);
    });

    it('reports a bad stack name once, not again through the secret prefix derived from it', () => {
      const problems = problemsOf(() =>
        parseDeployment({ stackName: 'two words', poller: MINIMAL }, 'f.json'),
      );
      expect(problems).toHaveLength(1);
      expect(problems[0]).toMatch(/^stackName/);
    });

    it('requires the poller props', () => {
      expect(problemsOf(() => parseDeployment({ stackName: 'S' }, 'f.json'))).toEqual([
        'poller is required: an object with the Pop3Poller props (infra/props.ts)',
      ]);
    });
  });

  describe('infra/app.ts', () => {
    const tsx = join(ROOT, 'node_modules', '.bin', 'tsx');
    const cdkJson = JSON.parse(readFileSync(join(ROOT, 'cdk.json'), 'utf8')) as { context: object };
    const synth = (context: Record<string, unknown>) => {
      const outdir = tempDir('pop3-poller-app-');
      const run = promisify(execFile)(tsx, ['infra/app.ts'], {
        cwd: ROOT,
        env: {
          ...process.env,
          // What the CDK CLI hands the app: cdk.json's context plus -c values, and the output directory.
          CDK_CONTEXT_JSON: JSON.stringify({ ...cdkJson.context, ...context, 'aws:cdk:bundling-stacks': [] }),
          CDK_OUTDIR: outdir,
        },
      });
      return { run, outdir };
    };

    it('synthesizes the stack the file describes, with its settings and cdk-nag', async () => {
      const file = tempFile(
        'deployment.json',
        JSON.stringify({
          stackName: 'FromFile',
          region: 'eu-west-3',
          account: '111122223333',
          poller: { ...MINIMAL, archive: { prefix: 'inbox/' } },
        }),
      );
      const { run, outdir } = synth({ configFile: file });
      await run;
      const manifest = JSON.parse(readFileSync(join(outdir, 'manifest.json'), 'utf8')) as {
        artifacts: Record<string, { type: string; environment?: string }>;
      };
      expect(manifest.artifacts.FromFile).toMatchObject({
        type: 'aws:cloudformation:stack',
        environment: 'aws://111122223333/eu-west-3',
      });
      const template = JSON.parse(readFileSync(join(outdir, 'FromFile.template.json'), 'utf8')) as {
        Outputs: Record<string, { Value: unknown }>;
      };
      const prefix = Object.entries(template.Outputs).find(([id]) =>
        /^PollerArchivePrefix[0-9A-F]{8}$/.test(id),
      );
      expect(prefix?.[1].Value).toBe('inbox/');
      expect(JSON.parse(readFileSync(join(outdir, 'validation-report.json'), 'utf8'))).toMatchObject({
        pluginReports: expect.arrayContaining([
          expect.objectContaining({ pluginName: 'AwsSolutions', conclusion: 'success' }),
        ]),
      });
    });

    it('fails with every problem of a bad file listed, and synthesizes nothing', async () => {
      const file = tempFile(
        'deployment.json',
        JSON.stringify({ stackName: 'Bad', poller: { accounts: [], fleet: { shards: 0, batchSize: 101 } } }),
      );
      const { run, outdir } = synth({ configFile: file });
      await expect(run).rejects.toMatchObject({
        stderr: expect.stringContaining(
          `Invalid deployment file ${file}:\n  - poller: fleet.shards must be an integer from 1 to 1024\n` +
            '  - poller: fleet.batchSize must be an integer from 1 to 100',
        ),
      });
      expect(() => readFileSync(join(outdir, 'manifest.json'))).toThrow(/ENOENT/);
    });
  });
});
