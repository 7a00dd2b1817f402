// `npx cdk synth|deploy` runs this (cdk.json). Knobs: CDK context, see infra/stack-context.ts and docs/deploy.md.
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { GloStack } from './glo-stack.ts';
import { gloStackPropsFromContext } from './stack-context.ts';

const app = new App();
// Environment-agnostic on purpose (no env: no lookups): deployable to whatever account/region the CLI uses.
new GloStack(app, 'Glo', gloStackPropsFromContext(app.node));
Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
app.synth();
