// A real S3 API on loopback for tests (docs/architecture.md section 5: S3 code is tested against moto_server, never
// against mocks of the SDK). Usage:
//
//   let moto: Moto;
//   beforeAll(async () => { moto = await startMoto(); await moto.createBucket('datasets'); });
//   afterAll(() => moto?.stop());
//
// startMoto points the SDK default chain at it through process.env, so code under test builds its
// clients exactly as it would on AWS.
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';

export interface Moto {
  /** http://127.0.0.1:PORT, also set as AWS_ENDPOINT_URL. */
  endpoint: string;
  /** Kills the server (idempotent). */
  stop(): Promise<void>;
  /** Drops every bucket and object (POST /moto-api/reset); create buckets again afterwards. */
  reset(): Promise<void>;
  /** Creates a bucket; fine if it already exists. */
  createBucket(name: string): Promise<void>;
  /** A client for test set-up and inspection, configured like the code under test's. */
  client: S3Client;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

async function waitUntilReady(endpoint: string, child: ChildProcess, output: () => string): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`moto_server exited with ${child.exitCode}:\n${output()}`);
    try {
      const response = await fetch(`${endpoint}/moto-api/`);
      await response.arrayBuffer();
      if (response.ok) return;
    } catch {
      // Not listening yet.
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`moto_server did not answer on ${endpoint} within 30 s:\n${output()}`);
}

// moto_server runs under a small shell that kills it as soon as its stdin closes: stop() closes it, and so
// does the OS when the test process dies in any way (a crashed or killed vitest worker runs no 'exit'
// handlers, and an orphaned moto would hold its port and memory). The shell exits when moto does, so a
// moto that fails to start shows up as an exited child.
const WRAPPER = `
exec 3<&0
command -v moto_server >/dev/null || { echo "moto_server not found on PATH (pip install 'moto[server]')" >&2; exit 127; }
moto_server -H 127.0.0.1 -p "$1" </dev/null &
pid=$!
(read -r _ <&3; kill "$pid" 2>/dev/null) &
wait "$pid"
`;

export async function startMoto(): Promise<Moto> {
  // A port can be taken between freePort() and moto binding it; retry a few times on that race.
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const endpoint = `http://127.0.0.1:${port}`;
    let log = '';
    const child = spawn('sh', ['-c', WRAPPER, 'moto-wrapper', String(port)], { stdio: ['pipe', 'pipe', 'pipe'] });
    child.stdout?.on('data', (chunk) => (log = (log + chunk).slice(-4000)));
    child.stderr?.on('data', (chunk) => (log = (log + chunk).slice(-4000)));
    try {
      await waitUntilReady(endpoint, child, () => log);
    } catch (error) {
      child.stdin?.end();
      // Port taken between freePort() and moto binding it: try another.
      if (attempt < 3 && !/not found/.test(log)) continue;
      throw error;
    }

    Object.assign(process.env, {
      AWS_ENDPOINT_URL: endpoint,
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: 'test',
      AWS_SECRET_ACCESS_KEY: 'test',
      AWS_EC2_METADATA_DISABLED: 'true',
    });
    delete process.env.AWS_PROFILE;
    delete process.env.AWS_SESSION_TOKEN;

    const client = new S3Client({ endpoint, region: 'us-east-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
    return {
      endpoint,
      client,
      async stop() {
        client.destroy();
        if (child.exitCode !== null || child.signalCode !== null) return;
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.stdin?.end();
        await exited;
      },
      async reset() {
        const response = await fetch(`${endpoint}/moto-api/reset`, { method: 'POST' });
        await response.arrayBuffer();
        if (!response.ok) throw new Error(`moto reset failed: HTTP ${response.status}`);
      },
      async createBucket(name: string) {
        try {
          await client.send(new CreateBucketCommand({ Bucket: name }));
        } catch (error) {
          if ((error as Error).name !== 'BucketAlreadyOwnedByYou') throw error;
        }
      },
    };
  }
}
