import { contentType } from 'mime-types';

/**
 * The Content-Type of a file by its extension (mime-db, through mime-types; text types with charset=utf-8),
 * application/octet-stream when unknown. One table for S3 objects (CloudFront serves the artifacts bucket, and
 * a PNG stored as binary/octet-stream downloads instead of displaying), uploads and `glo serve`.
 */
export function contentTypeOf(name: string): string {
  const dot = name.lastIndexOf('.');
  return (dot > name.lastIndexOf('/') && contentType(name.slice(dot).toLowerCase())) || 'application/octet-stream';
}
