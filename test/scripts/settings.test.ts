import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Template } from 'aws-cdk-lib/assertions';
import { parseDeployment } from '../../infra/config-file';
import { Pop3PollerStack } from '../../infra/stack';
import {
  childEnvironment,
  E2E_ACCOUNT_ID,
  e2eDeployment,
  e2eSecretName,
  E2eSettingsError,
  makeStackName,
  readSettings,
  readSynthSettings,
  secretString,
  VARIABLES,
} from '../../scripts/e2e/settings';
import { ENV, testApp } from '../support/cdk-app';
import { makeTestCertificates } from '../support/certs';
import { tempDir } from '../support/temp';

/** scripts/aws-e2e.ts: its settings, checked offline, and the test deployment it writes. */

const PASSWORD = 'pw-DO-NOT-ECHO-7f3a';

const VALID = {
  E2E_POP3_HOST: 'pop.example.com',
  E2E_POP3_USERNAME: 'e2e@example.com',
  E2E_POP3_PASSWORD: PASSWORD,
  AWS_REGION: 'eu-west-1',
} as const;

function problemsOf(env: Record<string, string | undefined>): readonly string[] {
  try {
    readSettings(env);
  } catch (error) {
    expect(error).toBeInstanceOf(E2eSettingsError);
    expect((error as Error).message).not.toContain(PASSWORD);
    return (error as E2eSettingsError).problems;
  }
  throw new Error('expected an E2eSettingsError');
}

function tempFile(content: string): string {
  const file = join(tempDir('pop3-e2e-settings-'), 'ca.pem');
  writeFileSync(file, content);
  return file;
}

describe('scripts/aws-e2e.ts settings', () => {
  describe('readSettings', () => {
    it('takes the mailbox and region, with implicit TLS on 995 by default', () => {
      expect(readSettings({ ...VALID, PATH: '/usr/bin', AWS_PROFILE: 'sandbox' })).toEqual({
        pop3: {
          host: 'pop.example.com',
          port: 995,
          tls: 'implicit',
          username: 'e2e@example.com',
          password: PASSWORD,
        },
        expectMessages: undefined,
        timeoutSeconds: 600,
        region: 'eu-west-1',
        profile: 'sandbox',
      });
    });

    it('defaults STLS to port 110, reads the region from AWS_DEFAULT_REGION, and every option', () => {
      const caFile = tempFile(makeTestCertificates().caPem);
      const settings = readSettings({
        ...VALID,
        AWS_REGION: '',
        AWS_DEFAULT_REGION: 'us-east-2',
        E2E_POP3_TLS: 'starttls',
        E2E_POP3_CA_FILE: caFile,
        E2E_EXPECT_MESSAGES: '3',
        E2E_TIMEOUT_SECONDS: '900',
      });
      expect(settings).toMatchObject({
        pop3: { port: 110, tls: 'starttls', caPem: makeTestCertificates().caPem },
        expectMessages: 3,
        timeoutSeconds: 900,
        region: 'us-east-2',
        profile: undefined,
      });
      expect(readSettings({ ...VALID, E2E_POP3_PORT: '1995' }).pop3.port).toBe(1995);
    });

    it('lists every problem at once, by variable name, echoing no value', () => {
      expect(
        problemsOf({
          E2E_POP3_HOST: 'not a host!',
          E2E_POP3_PORT: `99999${PASSWORD}`,
          E2E_POP3_TLS: 'ssl',
          E2E_POP3_PASS: PASSWORD,
          E2E_EXPECT_MESSAGES: '0',
          E2E_TIMEOUT_SECONDS: '5',
          AWS_REGION: 'Ireland',
        }),
      ).toEqual([
        expect.stringMatching(
          /^E2E_POP3_PASS is not a known variable \(known: E2E_POP3_HOST, .*E2E_POP3_PASSWORD/,
        ),
        'E2E_POP3_HOST must be a host name or an IP address',
        'E2E_POP3_TLS must be "implicit" or "starttls"',
        'E2E_POP3_PORT must be an integer from 1 to 65535',
        'E2E_POP3_USERNAME is not set',
        'E2E_POP3_PASSWORD is not set',
        'E2E_EXPECT_MESSAGES must be an integer from 1 to 1000',
        'E2E_TIMEOUT_SECONDS must be an integer from 60 to 3600',
        'AWS_REGION must be an AWS region such as "eu-west-1"',
      ]);
    });

    it('requires a region', () => {
      expect(problemsOf({ ...VALID, AWS_REGION: undefined })).toEqual([
        'AWS_REGION (or AWS_DEFAULT_REGION) is not set: name the region to deploy the test stack in',
      ]);
    });

    it('refuses a cleartext connection, which the deployed worker would refuse too', () => {
      expect(problemsOf({ ...VALID, E2E_POP3_TLS: 'none' })).toEqual([
        expect.stringMatching(/^E2E_POP3_TLS "none" is not supported/),
      ]);
    });

    it('checks the CA file: readable, PEM, small enough for the worker environment', () => {
      const missing = join(tmpdir(), 'pop3-e2e-no-such-ca.pem');
      expect(problemsOf({ ...VALID, E2E_POP3_CA_FILE: missing })).toEqual([
        'E2E_POP3_CA_FILE cannot be read (ENOENT)',
      ]);
      expect(problemsOf({ ...VALID, E2E_POP3_CA_FILE: tempFile('not a certificate') })).toEqual([
        expect.stringMatching(/^E2E_POP3_CA_FILE must hold PEM certificate\(s\), at most 3000 characters/),
      ]);
      const big = `-----BEGIN CERTIFICATE-----\n${'A'.repeat(3000)}\n-----END CERTIFICATE-----\n`;
      expect(problemsOf({ ...VALID, E2E_POP3_CA_FILE: tempFile(big) })).toHaveLength(1);
    });

    it('documents every variable it reads', () => {
      expect(VARIABLES.map(([name]) => name)).toEqual([
        'E2E_POP3_HOST',
        'E2E_POP3_PORT',
        'E2E_POP3_TLS',
        'E2E_POP3_USERNAME',
        'E2E_POP3_PASSWORD',
        'E2E_POP3_CA_FILE',
        'E2E_EXPECT_MESSAGES',
        'E2E_TIMEOUT_SECONDS',
      ]);
    });
  });

  describe('readSynthSettings', () => {
    it('needs no mailbox and no region', () => {
      expect(readSynthSettings({})).toEqual({ caPem: undefined });
    });

    it('still checks the CA file and typos', () => {
      expect(() => readSynthSettings({ E2E_POP3_CA_FILE: tempFile('nope'), E2E_TYPO: '1' })).toThrow(
        /E2E_TYPO is not a known variable[\s\S]*E2E_POP3_CA_FILE must hold PEM/,
      );
    });
  });

  describe('the test deployment', () => {
    it('is named Pop3E2E-<10 random letters and digits>', () => {
      expect(makeStackName()).toMatch(/^Pop3E2E-[a-z0-9]{10}$/);
      expect(makeStackName()).not.toBe(makeStackName());
      expect(makeStackName(() => Buffer.from([0, 1, 25, 26, 35, 36, 71, 72, 255, 9]))).toBe(
        'Pop3E2E-abz09a9adj',
      );
      expect(() => makeStackName(() => Buffer.alloc(3))).toThrow(/not enough random bytes/);
    });

    it('is a valid deployment file (infra/config-file.ts), checked by the construct itself', () => {
      const file = e2eDeployment('Pop3E2E-abcdefghij', undefined);
      expect(parseDeployment(JSON.parse(JSON.stringify(file)), 'deployment.json')).toEqual({
        deployment: { stackName: 'Pop3E2E-abcdefghij' },
        config: file.poller,
      });
      const withCa = e2eDeployment('Pop3E2E-abcdefghij', makeTestCertificates().caPem);
      expect(() => parseDeployment(withCa, 'deployment.json')).not.toThrow();
      expect(withCa.poller.worker?.extraCaPem).toBe(makeTestCertificates().caPem);
    });

    it('creates the one secret, schedules nothing, and routes "Message Archived" to a sample queue', () => {
      const stackName = 'Pop3E2E-abcdefghij';
      const file = e2eDeployment(stackName, undefined);
      const stack = new Pop3PollerStack(testApp(), stackName, { poller: file.poller, env: ENV });
      const template = Template.fromStack(stack);
      template.resourceCountIs('AWS::SecretsManager::Secret', 1);
      template.hasResourceProperties('AWS::SecretsManager::Secret', { Name: e2eSecretName(stackName) });
      expect(e2eSecretName(stackName)).toBe(`pop3-poller/${stackName}/${E2E_ACCOUNT_ID}`);
      const schedules = Object.values(template.findResources('AWS::Scheduler::Schedule'));
      expect(schedules.map((s) => s.Properties.State)).toEqual(['DISABLED']);
      template.hasResourceProperties('AWS::Events::Rule', {
        EventPattern: { source: ['pop3-poller'], 'detail-type': ['Message Archived'] },
      });
      template.resourceCountIs('AWS::CloudWatch::Dashboard', 0);
    });

    it('fills the secret with the documented JSON format', () => {
      const pop3 = readSettings(VALID).pop3;
      expect(JSON.parse(secretString(pop3))).toEqual({
        host: 'pop.example.com',
        port: 995,
        tls: 'implicit',
        username: 'e2e@example.com',
        password: PASSWORD,
      });
    });
  });

  describe('childEnvironment', () => {
    it('keeps the mailbox settings from the CDK CLI and pins the region', () => {
      expect(
        childEnvironment(
          { ...VALID, PATH: '/bin', AWS_PROFILE: 'p', AWS_DEFAULT_REGION: 'us-east-1' },
          'eu-west-1',
        ),
      ).toEqual({ PATH: '/bin', AWS_PROFILE: 'p', AWS_REGION: 'eu-west-1', AWS_DEFAULT_REGION: 'eu-west-1' });
      expect(childEnvironment({ E2E_POP3_PASSWORD: PASSWORD, HOME: '/h' }, undefined)).toEqual({
        HOME: '/h',
      });
    });
  });
});
