/**
 * A small JSON Schema (draft 2020-12) checker for the keywords infra/event-schema.json uses:
 * type, const, enum, properties, required, additionalProperties, items, $ref (local), allOf,
 * oneOf, if/then, minimum, minLength, pattern and format date-time. Returns the problems, with their paths.
 * Not a general validator; an unsupported keyword is reported rather than ignored.
 */

type Schema = Record<string, unknown>;

const SUPPORTED = new Set([
  '$schema',
  '$id',
  '$defs',
  'title',
  'description',
  'type',
  'const',
  'enum',
  'properties',
  'required',
  'additionalProperties',
  'items',
  '$ref',
  'allOf',
  'oneOf',
  'if',
  'then',
  'minimum',
  'minLength',
  'pattern',
  'format',
]);

const ISO_DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

function typeOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number';
  return typeof value;
}

export function validate(root: Schema, value: unknown): string[] {
  const problems: string[] = [];
  check(root, root, value, '$', problems);
  return problems;
}

function check(root: Schema, schema: Schema, value: unknown, path: string, problems: string[]): void {
  for (const keyword of Object.keys(schema)) {
    if (!SUPPORTED.has(keyword)) problems.push(`${path}: unsupported keyword ${keyword}`);
  }
  if (typeof schema.$ref === 'string') {
    const name = /^#\/\$defs\/(.+)$/.exec(schema.$ref)?.[1];
    const target = name ? (root.$defs as Record<string, Schema> | undefined)?.[name] : undefined;
    if (!target) problems.push(`${path}: unresolved $ref ${schema.$ref}`);
    else check(root, target, value, path, problems);
  }
  const actual = typeOf(value);
  if (schema.type !== undefined) {
    const types = Array.isArray(schema.type) ? (schema.type as string[]) : [schema.type as string];
    const ok = types.some((t) => t === actual || (t === 'number' && actual === 'integer'));
    if (!ok) {
      problems.push(`${path}: is ${actual}, expected ${types.join(' or ')}`);
      return;
    }
  }
  if ('const' in schema && JSON.stringify(value) !== JSON.stringify(schema.const)) {
    problems.push(`${path}: is ${JSON.stringify(value)}, expected ${JSON.stringify(schema.const)}`);
  }
  if (Array.isArray(schema.enum) && !schema.enum.some((e) => JSON.stringify(e) === JSON.stringify(value))) {
    problems.push(`${path}: ${JSON.stringify(value)} is not one of ${JSON.stringify(schema.enum)}`);
  }
  if (typeof value === 'number' && typeof schema.minimum === 'number' && value < schema.minimum) {
    problems.push(`${path}: ${value} is below ${schema.minimum}`);
  }
  if (typeof value === 'string') {
    if (typeof schema.minLength === 'number' && [...value].length < schema.minLength) {
      problems.push(`${path}: is shorter than ${schema.minLength} characters`);
    }
    if (typeof schema.pattern === 'string' && !new RegExp(schema.pattern, 'u').test(value)) {
      problems.push(`${path}: ${JSON.stringify(value)} does not match ${schema.pattern}`);
    }
    if (schema.format === 'date-time' && !(ISO_DATE_TIME.test(value) && !Number.isNaN(Date.parse(value)))) {
      problems.push(`${path}: ${JSON.stringify(value)} is not an RFC 3339 date-time`);
    }
  }
  if (actual === 'object') {
    const object = value as Record<string, unknown>;
    const properties = (schema.properties ?? {}) as Record<string, Schema>;
    for (const key of (schema.required ?? []) as string[]) {
      if (!(key in object)) problems.push(`${path}: ${key} is required`);
    }
    for (const [key, item] of Object.entries(object)) {
      if (properties[key]) check(root, properties[key], item, `${path}.${key}`, problems);
      else if (schema.additionalProperties === false) problems.push(`${path}: ${key} is not allowed`);
    }
  }
  if (actual === 'array' && schema.items !== undefined) {
    (value as unknown[]).forEach((item, i) =>
      check(root, schema.items as Schema, item, `${path}[${i}]`, problems),
    );
  }
  for (const sub of (schema.allOf ?? []) as Schema[]) check(root, sub, value, path, problems);
  if (Array.isArray(schema.oneOf)) {
    const passing = (schema.oneOf as Schema[]).filter((sub) => validateAt(root, sub, value).length === 0);
    if (passing.length !== 1)
      problems.push(`${path}: matches ${passing.length} of oneOf, expected exactly 1`);
  }
  if (schema.if !== undefined && validateAt(root, schema.if as Schema, value).length === 0 && schema.then) {
    check(root, schema.then as Schema, value, path, problems);
  }
}

function validateAt(root: Schema, schema: Schema, value: unknown): string[] {
  const problems: string[] = [];
  check(root, schema, value, '$', problems);
  return problems;
}
