// CloudFront Function (cloudfront-js-2.0), viewer request of the site behaviour. Astro writes every page as
// `<page>/index.html`; S3 has no directory index behind OAC, so `/explore/` and `/explore` become
// `/explore/index.html`. Paths whose last segment has a dot (`/_astro/app.js`, `/favicon.svg`) pass unchanged.
// test/infra/directory-index.test.ts runs this very file.
// eslint-disable-next-line @typescript-eslint/no-unused-vars -- CloudFront calls `handler` by name
function handler(event) {
  var request = event.request;
  var uri = request.uri;
  if (uri.endsWith('/')) {
    request.uri = uri + 'index.html';
  } else if (uri.slice(uri.lastIndexOf('/') + 1).indexOf('.') === -1) {
    request.uri = uri + '/index.html';
  }
  return request;
}
