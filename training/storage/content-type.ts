import { contentType } from 'mime-types';
import { posix } from 'node:path';

/**
 * The Content-Type of a file by its extension (mime-db, through mime-types; text types with charset=utf-8),
 * application/octet-stream when unknown. One table for S3 objects (CloudFront serves the artifacts bucket, and
 * a PNG stored as binary/octet-stream downloads instead of displaying), uploads and `glo serve`.
 */
export function contentTypeOf(name: string): string {
  const dot = name.lastIndexOf('.');
  return (dot > name.lastIndexOf('/') && contentType(name.slice(dot).toLowerCase())) || 'application/octet-stream';
}

/**
 * The Cache-Control stored with a file, by its name. The runs index, a run's manifest and its eval.json change
 * in place (a new run lands, a sampler is refitted, the run is evaluated again): browsers must revalidate them ("no-cache"; ETags keep that cheap),
 * or with no header they would guess a freshness from Last-Modified and hide a new run for hours. Everything
 * else of a run is written once under a fresh run id and keeps the default (CloudFront's cache policy).
 */
export function cacheControlOf(name: string): string | undefined {
  const base = posix.basename(name);
  return base === 'index.json' || base === 'manifest.json' || base === 'eval.json' ? 'no-cache' : undefined;
}
