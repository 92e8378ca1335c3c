import { App } from 'aws-cdk-lib';
import { deployment, config } from './config';
import { addNagChecks } from './nag';
import { Pop3PollerStack } from './stack';

/** `npx cdk synth|deploy` runs this (cdk.json). */
const app = new App();
const stack = new Pop3PollerStack(app, deployment.stackName, {
  poller: config,
  env: {
    account: deployment.account ?? process.env.CDK_DEFAULT_ACCOUNT,
    region: deployment.region ?? process.env.CDK_DEFAULT_REGION,
  },
});
addNagChecks(app, [stack.poller]);
app.synth();
