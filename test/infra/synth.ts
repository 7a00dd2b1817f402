// Builds the glo stack the way `npx cdk synth` does (cdk.json's context, the same stack props), but with a
// fixture site folder and asset staging off so it is fast and needs no site build. Shared with the pipeline's
// rehearsal test, which reads the rule and job definition from the template.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { App, Validations } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { GloStack, REPO_ROOT, type GloStackProps } from '../../infra/glo-stack.ts';
import { gloStackPropsFromContext } from '../../infra/stack-context.ts';

export const FIXTURE_SITE_DIST = fileURLToPath(new URL('./fixtures/site', import.meta.url));

export interface BuildGloStackOptions {
  /** Extra CDK context (e.g. knobs such as 'glo:spot': 'false'). */
  context?: Record<string, unknown>;
  /** Props over the context's (siteDist defaults to the fixture). */
  props?: GloStackProps;
  /** Attach cdk-nag AwsSolutions as app.ts does; any unacknowledged finding then throws at synth. */
  nag?: boolean;
  /** Stage assets (Docker context, site folder) into cdk.out; slow, off by default. */
  stageAssets?: boolean;
}

export function cdkJsonContext(): Record<string, unknown> {
  const cdkJson = JSON.parse(readFileSync(`${REPO_ROOT}/cdk.json`, 'utf8')) as { context?: Record<string, unknown> };
  return cdkJson.context ?? {};
}

export function buildGloStack(options: BuildGloStackOptions = {}): { app: App; stack: GloStack } {
  const app = new App({
    context: {
      ...cdkJsonContext(),
      ...(options.stageAssets ? {} : { 'aws:cdk:disable-asset-staging': true }),
      ...options.context,
    },
  });
  const stack = new GloStack(app, 'Glo', { siteDist: FIXTURE_SITE_DIST, ...gloStackPropsFromContext(app.node), ...options.props });
  if (options.nag) Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  return { app, stack };
}

/** The synthesized CloudFormation template of stack "Glo" (default knobs, fixture site) as plain JSON. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function synthGloTemplate(options: BuildGloStackOptions = {}): Record<string, any> {
  return Template.fromStack(buildGloStack(options).stack).toJSON();
}
