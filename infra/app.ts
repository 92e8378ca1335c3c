import { App } from 'aws-cdk-lib';
import { deployment, config } from './config';
import { CONFIG_FILE_CONTEXT, selectDeployment } from './config-file';
import { addNagChecks } from './nag';
import { Pop3PollerStack } from './stack';

/**
 * `npx cdk synth|deploy` runs this (cdk.json). The deployment is infra/config.ts, or a JSON file
 * given as `-c configFile=path.json` (infra/config-file.ts).
 */
const app = new App();
const selected = selectDeployment(app.node.tryGetContext(CONFIG_FILE_CONTEXT), { deployment, config });
const stack = new Pop3PollerStack(app, selected.deployment.stackName, {
  poller: selected.config,
  env: {
    account: selected.deployment.account ?? process.env.CDK_DEFAULT_ACCOUNT,
    region: selected.deployment.region ?? process.env.CDK_DEFAULT_REGION,
  },
});
addNagChecks(app, [stack.poller]);
app.synth();
