/**
 * An SQS message body as JSON, for the parsers of what the queues carry (jobs.ts,
 * s3-notification.ts). The problem never quotes the body: JSON.parse's own message does, and a
 * body may hold anything.
 */
export function parseJsonBody(
  body: string,
): { readonly ok: true; readonly json: unknown } | { readonly ok: false; readonly problem: string } {
  try {
    return { ok: true, json: JSON.parse(body) };
  } catch {
    return { ok: false, problem: 'the message body is not JSON' };
  }
}
