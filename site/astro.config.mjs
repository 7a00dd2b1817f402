// The demo site: a static Astro build (site/dist) that loads runs at run time from GLO_RUNS_URL.
import { defineConfig } from 'astro/config';
import process from 'node:process';
import { fileURLToPath, URL } from 'node:url';

// Where the page looks for runs/index.json and the run folders. Same origin /runs/ by default (CloudFront serves
// the artifacts bucket there, `glo serve` the local runs/ folder); set GLO_RUNS_URL at build time to point a build at
// another place (e.g. https://dxxxx.cloudfront.net/runs/, which then needs CORS).
const runsUrl = process.env.GLO_RUNS_URL ?? '/runs/';

export default defineConfig({
  output: 'static',
  devToolbar: { enabled: false },
  vite: {
    define: { __GLO_RUNS_URL__: JSON.stringify(runsUrl.endsWith('/') ? runsUrl : `${runsUrl}/`) },
    // The GLO math comes from training/glo (one level above the Astro root).
    server: { fs: { allow: [fileURLToPath(new URL('..', import.meta.url))] } },
    build: { chunkSizeWarningLimit: 2048 },
  },
});
