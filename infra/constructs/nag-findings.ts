// cdk-nag names a wildcard resource after the logical id of the resource it is in
// (`AwsSolutions-IAM5[Resource::<BucketsSite59871C46.Arn>/*]`). Built from the bucket, an acknowledgement
// keeps matching when a construct id changes, instead of silently going stale.
import { Stack, type CfnElement } from 'aws-cdk-lib';
import type * as s3 from 'aws-cdk-lib/aws-s3';

/** The IAM5 finding id for "objects of `bucket` matching `keyPattern`" (e.g. `runs/*`). */
export function bucketObjectsFinding(bucket: s3.IBucket, keyPattern: string): string {
  const cfnBucket = bucket.node.defaultChild as CfnElement | undefined;
  if (cfnBucket == null) throw new Error(`bucketObjectsFinding: ${bucket.node.path} is not a bucket defined in this app.`);
  return `AwsSolutions-IAM5[Resource::<${Stack.of(bucket).getLogicalId(cfnBucket)}.Arn>/${keyPattern}]`;
}
