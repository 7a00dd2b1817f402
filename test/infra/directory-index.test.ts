// The CloudFront Function file itself, run on viewer-request events: Astro's `dir/index.html` pages are
// reachable as /dir/ and /dir, assets pass unchanged.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { DIRECTORY_INDEX_FUNCTION_FILE } from '../../infra/constructs/site-hosting.ts';

type Request = { uri: string; querystring?: Record<string, unknown> };
const handler = new Function(`${readFileSync(DIRECTORY_INDEX_FUNCTION_FILE, 'utf8')}\nreturn handler;`)() as
  (event: { request: Request }) => Request;
const rewrite = (uri: string) => handler({ request: { uri, querystring: { run: { value: 'emoji' } } } });

describe('directory-index CloudFront Function', () => {
  it('respects Astro directory pages: /dir/ and /dir become /dir/index.html', () => {
    expect(rewrite('/').uri).toBe('/index.html');
    expect(rewrite('/explore/').uri).toBe('/explore/index.html');
    expect(rewrite('/explore').uri).toBe('/explore/index.html');
    expect(rewrite('/docs/method').uri).toBe('/docs/method/index.html');
  });

  it('respects files: paths whose last segment has an extension pass unchanged', () => {
    for (const uri of ['/index.html', '/_astro/app.3f2a.js', '/favicon.svg', '/explore/index.html', '/v1.2/notes.txt']) {
      expect(rewrite(uri).uri).toBe(uri);
    }
  });

  it('respects the rest of the request (query string kept, nothing else added)', () => {
    expect(rewrite('/explore')).toEqual({ uri: '/explore/index.html', querystring: { run: { value: 'emoji' } } });
  });
});
