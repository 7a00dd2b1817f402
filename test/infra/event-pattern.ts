// The subset of EventBridge event-pattern matching the glo rule uses: nested objects, lists of exact values,
// and `{ wildcard }` / `{ prefix }` / `{ suffix }` filters. Good enough to state what the rule accepts; not a
// full implementation (no numeric, anything-but or exists filters: those throw).
type Pattern = { [field: string]: Pattern | unknown[] };

export function matchesEventPattern(pattern: Pattern, event: unknown): boolean {
  if (event == null || typeof event !== 'object') return false;
  return Object.entries(pattern).every(([field, expected]) => {
    const value = (event as Record<string, unknown>)[field];
    if (!Array.isArray(expected)) return matchesEventPattern(expected as Pattern, value);
    return expected.some((filter) => matchesFilter(filter, value));
  });
}

function matchesFilter(filter: unknown, value: unknown): boolean {
  if (filter == null || typeof filter !== 'object') return filter === value;
  if (typeof value !== 'string') return false;
  const { wildcard, prefix, suffix, ...rest } = filter as { wildcard?: string; prefix?: string; suffix?: string };
  if (Object.keys(rest).length > 0) throw new Error(`event-pattern.ts: unsupported filter ${JSON.stringify(filter)}`);
  if (wildcard != null) {
    const regex = wildcard.split('*').map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*');
    return new RegExp(`^${regex}$`, 's').test(value);
  }
  if (prefix != null) return value.startsWith(prefix);
  if (suffix != null) return value.endsWith(suffix);
  return false;
}

/** An S3 "Object Created" event as EventBridge delivers it (the fields the rule and transformer read). */
export function s3ObjectCreatedEvent(bucket: string, key: string): Record<string, unknown> {
  return {
    version: '0',
    id: '17793124-05d4-b198-2fde-7ededc63b103',
    'detail-type': 'Object Created',
    source: 'aws.s3',
    account: '123456789012',
    time: '2026-11-28T14:00:00Z',
    region: 'us-east-1',
    resources: [`arn:aws:s3:::${bucket}`],
    detail: {
      version: '0',
      bucket: { name: bucket },
      object: { key, size: 123, etag: 'b1946ac92492d2347c6235b4d2611184', sequencer: '00617F08299329D189' },
      'request-id': 'N4N7GDK58NMKJ12R',
      requester: '123456789012',
      reason: 'PutObject',
    },
  };
}
