import type { IncomingHttpHeaders } from 'node:http';

/** Wire JSON as a service receives it: untyped, and checked field by field where it matters. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Wire = any;

/** A request as the stub's services see it: the whole body read, headers lower-cased (Node's). */
export interface StubRequest {
  readonly method: string;
  /** The URL path, still percent-encoded. */
  readonly path: string;
  readonly query: URLSearchParams;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
}

export interface StubResponse {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

/** An AWS error answer: HTTP status, error code (`__type` / `<Code>`), message. */
export class StubError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    /** Extra fields for the error body (S3: `<Key>` and the like). */
    readonly extra: Record<string, string> = {},
  ) {
    super(message);
  }
}

export function header(req: StubRequest, name: string): string | undefined {
  const value = req.headers[name.toLowerCase()];
  return Array.isArray(value) ? value.join(',') : value;
}

let requestCounter = 0;
export function requestId(): string {
  return `stub-${Date.now().toString(36)}-${(++requestCounter).toString(36)}`;
}

export function jsonResponse(contentType: string, status: number, value: unknown): StubResponse {
  return {
    status,
    headers: { 'content-type': contentType, 'x-amzn-requestid': requestId() },
    body: Buffer.from(JSON.stringify(value ?? {}), 'utf8'),
  };
}

export function jsonError(contentType: string, error: StubError, namespace: string): StubResponse {
  const response = jsonResponse(contentType, error.status, {
    __type: `${namespace}#${error.code}`,
    message: error.message,
    ...error.extra,
  });
  response.headers['x-amzn-errortype'] = error.code;
  return response;
}

export function xmlEscape(text: string): string {
  return text.replace(/[<>&'"]/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** `<Name>value</Name>` for each defined field, escaped. */
export function xmlFields(fields: Record<string, string | number | undefined>): string {
  return Object.entries(fields)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `<${k}>${xmlEscape(String(v))}</${k}>`)
    .join('');
}

export function xmlResponse(status: number, xml: string, headers: Record<string, string> = {}): StubResponse {
  return {
    status,
    headers: { 'content-type': 'application/xml', 'x-amz-request-id': requestId(), ...headers },
    body: Buffer.from(`<?xml version="1.0" encoding="UTF-8"?>\n${xml}`, 'utf8'),
  };
}

/** Throws a ValidationException-style error unless `ok`. */
export function check(ok: unknown, message: string, code = 'ValidationException'): asserts ok {
  if (!ok) throw new StubError(400, code, message);
}
