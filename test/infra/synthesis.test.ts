// What `npx cdk synth` does, checked end to end: infra/app.ts (the command cdk.json runs) synthesizes with
// cdk-nag attached and no credentials, and cfn-lint accepts the CloudFormation template it wrote. Plus
// cdk-nag's part on its own: zero unacknowledged findings, and it really is watching.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Template } from 'aws-cdk-lib/assertions';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { REPO_ROOT } from '../../infra/glo-stack.ts';
import { buildGloStack, cdkJsonContext, FIXTURE_SITE_DIST } from './synth.ts';

// Synthesis with cdk-nag, and the app in a child process, take tens of seconds on a loaded 2-core machine:
// more room than the project's 120 s default, so a busy CI run is not a failure.
const SLOW = { timeout: 300_000 };

const outdir = mkdtempSync(path.join(os.tmpdir(), 'glo-cdk-out-'));
afterAll(() => rmSync(outdir, { recursive: true, force: true }));

describe('cdk-nag AwsSolutions', () => {
  it('respects "zero unacknowledged findings", on GPU and with glo:compute=cpu', SLOW, () => {
    expect(() => Template.fromStack(buildGloStack({ nag: true }).stack)).not.toThrow();
    expect(() => Template.fromStack(buildGloStack({ nag: true, context: { 'glo:compute': 'cpu' } }).stack)).not.toThrow();
  });

  it('respects "a new finding fails synthesis" (the checks are attached and enforced)', SLOW, () => {
    const { stack } = buildGloStack({ nag: true });
    new s3.Bucket(stack, 'CarelessBucket'); // no access logs, no TLS enforcement
    expect(() => Template.fromStack(stack)).toThrow(/Glo\/CarelessBucket/);
  });
});

describe('cdk synth', () => {
  it('respects "offline, no credentials, no Docker": infra/app.ts writes the Glo template', SLOW, () => {
    // What the CDK CLI does with cdk.json's "app": run it with the context and an output folder.
    const env: NodeJS.ProcessEnv = {
      ...Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('AWS_'))),
      AWS_EC2_METADATA_DISABLED: 'true',
      CDK_OUTDIR: outdir,
      CDK_CONTEXT_JSON: JSON.stringify({ ...cdkJsonContext(), 'glo:siteDist': FIXTURE_SITE_DIST }),
    };
    const app = JSON.parse(readFileSync(path.join(REPO_ROOT, 'cdk.json'), 'utf8')).app as string;
    expect(app).toBe('npx tsx infra/app.ts');
    const result = spawnSync(process.execPath, [path.join(REPO_ROOT, 'node_modules/tsx/dist/cli.mjs'), 'infra/app.ts'], {
      cwd: REPO_ROOT, env, encoding: 'utf8',
    });
    expect(result.status, `${result.stdout}\n${result.stderr}`).toBe(0);
    expect(existsSync(path.join(outdir, 'Glo.template.json'))).toBe(true);
    // The image asset is only staged (built at deploy): its context is the allowlist of .dockerignore.
    const assets = JSON.parse(readFileSync(path.join(outdir, 'Glo.assets.json'), 'utf8'));
    const [image] = Object.values(assets.dockerImages) as Array<{ source: { directory: string; dockerFile: string } }>;
    expect(image.source.dockerFile).toBe('training/Dockerfile');
    const staged = path.join(outdir, image.source.directory);
    expect(existsSync(path.join(staged, 'training/Dockerfile'))).toBe(true);
    expect(existsSync(path.join(staged, 'bin/glo.js'))).toBe(true);
    for (const excluded of ['node_modules', 'site', 'runs', '.tmp', 'cdk.out', 'infra', 'test']) {
      expect(existsSync(path.join(staged, excluded)), excluded).toBe(false);
    }
  });

  it('respects cfn-lint: the synthesized template has no errors or warnings', SLOW, () => {
    const template = path.join(outdir, 'Glo.template.json');
    expect(existsSync(template), 'run with the synth test above').toBe(true);
    let version: string;
    try {
      version = execFileSync('cfn-lint', ['--version'], { encoding: 'utf8' }).trim();
    } catch {
      throw new Error('cfn-lint is not installed (or not on PATH): install it with `pip install cfn-lint` (CI: .ci/run does). ' +
        'This test must not pass without linting the template.');
    }
    // The CPU variant's template too (glo:compute=cpu).
    const cpuTemplate = path.join(outdir, 'Glo-cpu.template.json');
    writeFileSync(cpuTemplate, JSON.stringify(Template.fromStack(buildGloStack({ context: { 'glo:compute': 'cpu' } }).stack).toJSON()));
    // W3005: the two DependsOn that CDK writes next to an implicit Ref (harmless, generated).
    const lint = spawnSync('cfn-lint', ['--ignore-checks', 'W3005', '--', template, cpuTemplate], { encoding: 'utf8' });
    expect(lint.status, `${version}\n${lint.stdout}${lint.stderr}`).toBe(0);
  });
});
