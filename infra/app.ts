// The example CDK app:  npx cdk synth  (offline)  ·  npx cdk deploy
// cdk-nag AwsSolutions checks run on every synth; an unacknowledged finding fails it.
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { SkytoolsExampleStack } from './stack.ts';

const app = new App();
new SkytoolsExampleStack(app, app.node.tryGetContext('stackName') ?? 'SkytoolsExample', {
  env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
  queue: app.node.tryGetContext('queue'),
});
Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { verbose: true }));
app.synth();
