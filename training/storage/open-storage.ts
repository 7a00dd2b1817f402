// The factory over the two implementations, apart from storage.ts so that the implementations can import
// the interface and its helpers without an import circle.
import { FolderStorage } from './folder-storage.ts';
import { S3Storage } from './s3-storage.ts';
import type { Storage } from './storage.ts';

/** 's3://...' opens S3 (client from the SDK default chain: AWS_REGION, AWS_ENDPOINT_URL, credentials); anything else is a folder path (file:// URLs too). */
export function openStorage(uri: string): Storage {
  if (/^s3:\/\//i.test(uri)) return new S3Storage(uri);
  return new FolderStorage(uri);
}
