import * as v from 'valibot';
import { describeIssues } from './jobs';
import { parseJsonBody } from './json-body';

/**
 * The "Object Created" events S3 sends to EventBridge (the bucket's EventBridge notifications),
 * as an EventBridge rule's SQS target receives them: the whole event as the message body.
 *
 *   { "source": "aws.s3", "detail-type": "Object Created", "time": "…",
 *     "detail": { "bucket": { "name": "…" }, "object": { "key": "…", "size": 1234, … }, "reason": "PutObject", … } }
 *
 * Only what the SES inbound handler uses is checked; the rest of the event may change.
 */

export interface CreatedObject {
  readonly bucket: string;
  /** The object key, as S3 holds it. */
  readonly key: string;
  readonly size: number | undefined;
}

const ObjectCreatedSchema = v.object({
  source: v.literal('aws.s3'),
  'detail-type': v.literal('Object Created'),
  detail: v.object({
    bucket: v.object({ name: v.pipe(v.string(), v.nonEmpty()) }),
    object: v.object({
      key: v.pipe(v.string(), v.nonEmpty()),
      size: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0))),
    }),
  }),
});

export type ParsedNotification =
  { readonly ok: true; readonly object: CreatedObject } | { readonly ok: false; readonly problem: string };

export function parseObjectCreated(body: string): ParsedNotification {
  const parsed = parseJsonBody(body);
  if (!parsed.ok) return parsed;
  const result = v.safeParse(ObjectCreatedSchema, parsed.json);
  if (!result.success) return { ok: false, problem: describeIssues(result.issues, 'event') };
  const { bucket, object } = result.output.detail;
  return { ok: true, object: { bucket: bucket.name, key: decodeKey(object.key), size: object.size } };
}

/**
 * S3 writes object keys in its notifications URL-encoded (a space as `+`). The keys SES writes are
 * `<prefix><message id>`, with a message id of letters and digits and a prefix of the characters
 * the stack's settings allow, none of which encode, so decoding changes nothing for them — and
 * gives the real key for any other object that lands in the prefix.
 */
function decodeKey(key: string): string {
  if (!/[%+]/.test(key)) return key;
  try {
    return decodeURIComponent(key.replace(/\+/g, ' '));
  } catch {
    return key;
  }
}
