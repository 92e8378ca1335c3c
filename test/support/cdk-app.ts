import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import type { Pop3PollerProps } from '../../infra/props';
import { Pop3PollerStack } from '../../infra/stack';
import { tempDir } from './temp';

/**
 * CDK apps for the infra tests: the feature flags of cdk.json (so tests see what `cdk synth`
 * sees), bundling skipped (`aws:cdk:bundling-stacks: []`, so no esbuild run), a fixed account
 * and region, and a throw-away output directory (removed when the test file is done).
 */

const cdkJson = JSON.parse(readFileSync(join(__dirname, '..', '..', 'cdk.json'), 'utf8')) as {
  context: Record<string, unknown>;
};

export const ENV = { account: '111122223333', region: 'eu-west-1' } as const;

export function testApp(): App {
  return new App({
    outdir: tempDir('pop3-poller-cdk-'),
    context: { ...cdkJson.context, 'aws:cdk:bundling-stacks': [] },
  });
}

export function buildStack(poller: Pop3PollerProps, app: App = testApp()): Pop3PollerStack {
  return new Pop3PollerStack(app, 'Pop3Poller', { poller, env: ENV });
}

export function synthTemplate(poller: Pop3PollerProps): { stack: Pop3PollerStack; template: Template } {
  const stack = buildStack(poller);
  return { stack, template: Template.fromStack(stack) };
}

/** The smallest valid configuration. */
export const MINIMAL: Pop3PollerProps = { accounts: [{ id: 'support', secret: 'create' }] };
