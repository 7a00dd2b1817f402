// Just enough of EventBridge and CloudFormation to rehearse the stack's event -> job wiring offline
// (docs/architecture.md section 5): event pattern matching, the input transformer, Batch's Ref:: substitution, and the
// intrinsic functions the template uses in the places read. Anything else throws, so a new pattern feature
// in the stack fails the rehearsal loudly instead of matching by accident.

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** EventBridge wildcard: '*' matches any run of characters, '/' included; '\*' is a literal star. */
function wildcardMatches(pattern: string, value: string): boolean {
  let regex = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '\\' && (pattern[i + 1] === '*' || pattern[i + 1] === '\\')) regex += `\\${pattern[++i]}`;
    else if (c === '*') regex += '.*';
    else regex += c.replace(/[.+?^${}()|[\]\\/]/g, '\\$&');
  }
  return new RegExp(`^${regex}$`, 's').test(value);
}

/** One value against one alternative of a pattern's array: exact value, or a {prefix|suffix|wildcard|exists} filter. */
function matchesAlternative(alternative: Json, value: Json | undefined): boolean {
  if (alternative === null || typeof alternative !== 'object' || Array.isArray(alternative)) return value === alternative;
  const [[operator, operand], ...more] = Object.entries(alternative);
  if (more.length) throw new Error(`rehearsal matcher: one operator per filter, got ${JSON.stringify(alternative)}`);
  if (operator === 'exists') return operand === (value !== undefined);
  if (typeof value !== 'string') return false;
  if (operator === 'prefix' && typeof operand === 'string') return value.startsWith(operand);
  if (operator === 'suffix' && typeof operand === 'string') return value.endsWith(operand);
  if (operator === 'wildcard' && typeof operand === 'string') return wildcardMatches(operand, value);
  throw new Error(`rehearsal matcher: filter ${JSON.stringify(alternative)} is not implemented; extend test/pipeline/eventbridge.ts`);
}

/**
 * Does `event` match `pattern`? Every key of the pattern must match; a leaf is an array of alternatives (any
 * may match); an event array matches when any element does.
 */
export function matchesEventPattern(pattern: Record<string, Json>, event: Record<string, Json>): boolean {
  return Object.entries(pattern).every(([key, expected]) => {
    const value = event[key];
    if (Array.isArray(expected)) {
      const values = Array.isArray(value) ? value : [value];
      return expected.some((alternative) => values.some((v) => matchesAlternative(alternative, v)));
    }
    if (expected === null || typeof expected !== 'object') throw new Error(`rehearsal matcher: pattern leaf ${key} must be an array`);
    if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
    return matchesEventPattern(expected, value);
  });
}

function jsonPath(event: Json, path: string): Json | undefined {
  if (!path.startsWith('$')) throw new Error(`rehearsal transformer: path ${path} must start with $`);
  let node: Json | undefined = event;
  for (const part of path.slice(1).split('.').filter(Boolean)) {
    node = node !== null && typeof node === 'object' && !Array.isArray(node) ? node[part] : undefined;
  }
  return node;
}

/**
 * The input transformer: each <name> of InputTemplate becomes the InputPathsMap value read from the event; a
 * placeholder outside quotes takes the value as JSON (strings get their quotes), inside quotes its text.
 */
export function applyInputTransformer(transformer: { InputPathsMap: Record<string, string>; InputTemplate: string }, event: Json): string {
  let output = transformer.InputTemplate;
  for (const [name, path] of Object.entries(transformer.InputPathsMap)) {
    const value = jsonPath(event, path);
    if (value === undefined) throw new Error(`rehearsal transformer: ${path} is not in the event`);
    const text = typeof value === 'string' ? value : JSON.stringify(value);
    output = output.split(`"<${name}>"`).join(JSON.stringify(text));
    output = output.split(`<${name}>`).join(JSON.stringify(value));
  }
  return output;
}

/** Batch's substitution: every "Ref::name" argument becomes the submitted parameter, else the job definition's default. */
export function substituteRefs(command: string[], submitted: Record<string, string>, defaults: Record<string, string>): string[] {
  return command.map((arg) => {
    const match = /^Ref::(\w+)$/.exec(arg);
    if (!match) return arg;
    const value = submitted[match[1]] ?? defaults[match[1]];
    if (value === undefined) throw new Error(`Batch would reject the job: no value and no default for parameter ${match[1]}`);
    return value;
  });
}

/** Resolves Ref (to the given logical ids / pseudo parameters) and Fn::Join in a template value. */
export function resolveIntrinsics(value: Json, refs: Record<string, string>): Json {
  if (Array.isArray(value)) return value.map((v) => resolveIntrinsics(v, refs));
  if (value === null || typeof value !== 'object') return value;
  const keys = Object.keys(value);
  if (keys.length === 1 && keys[0] === 'Ref') {
    const target = refs[value.Ref as string];
    if (target === undefined) throw new Error(`rehearsal: no value for {"Ref": "${String(value.Ref)}"}`);
    return target;
  }
  if (keys.length === 1 && keys[0] === 'Fn::Join') {
    const [separator, parts] = value['Fn::Join'] as [string, Json[]];
    return parts.map((p) => resolveIntrinsics(p, refs)).join(separator);
  }
  if (keys.length === 1 && keys[0].startsWith('Fn::')) throw new Error(`rehearsal: intrinsic ${keys[0]} is not implemented`);
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, resolveIntrinsics(v, refs)]));
}

/** The S3 "Object Created" event as EventBridge delivers it (docs: Amazon S3 "EventBridge event message structure"). */
export function s3ObjectCreatedEvent(bucket: string, key: string, size: number, etag: string, region = 'us-east-1'): Record<string, Json> {
  return {
    version: '0',
    id: '17793124-05d4-b198-2fde-7ededc63b103',
    'detail-type': 'Object Created',
    source: 'aws.s3',
    account: '111122223333',
    time: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
    region,
    resources: [`arn:aws:s3:::${bucket}`],
    detail: {
      version: '0',
      bucket: { name: bucket },
      object: { key, size, etag, sequencer: '617f08299329d189' },
      'request-id': 'N4N7GDK58NMKJ12R',
      requester: '111122223333',
      'source-ip-address': '192.0.2.1',
      reason: 'PutObject',
    },
  };
}
