import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { ObjectReadError } from './errors';
import { describeSdkError, errorName, httpStatus } from './sdk-errors';

/**
 * Reads one object's bytes exactly as S3 holds them, as one Buffer, without reading past a limit:
 * what the SES inbound path reads a message SES wrote with. Only GetObject: nothing is written,
 * moved or deleted.
 */

export type ObjectBytes =
  | { readonly status: 'read'; readonly bytes: Buffer }
  /** 404 NoSuchKey: not there (any more). */
  | { readonly status: 'missing' }
  /** Longer than `maxBytes`: reading stopped there. */
  | { readonly status: 'too-large'; readonly size: number | undefined };

export async function readObjectBytes(
  client: S3Client,
  bucket: string,
  key: string,
  maxBytes: number,
): Promise<ObjectBytes> {
  let output;
  try {
    output = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  } catch (error) {
    if (httpStatus(error) === 404 || errorName(error) === 'NoSuchKey') return { status: 'missing' };
    throw new ObjectReadError(`S3 GetObject s3://${bucket}/${key} failed: ${describeSdkError(error)}`, {
      cause: error,
    });
  }
  const declared = output.ContentLength;
  const body = output.Body as AsyncIterable<Uint8Array> | undefined;
  if (declared !== undefined && declared > maxBytes) {
    destroy(body);
    return { status: 'too-large', size: declared };
  }
  if (!body) return { status: 'read', bytes: Buffer.alloc(0) };
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of body) {
      size += chunk.length;
      if (size > maxBytes) {
        destroy(body);
        return { status: 'too-large', size: declared };
      }
      chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length));
    }
  } catch (error) {
    throw new ObjectReadError(`reading s3://${bucket}/${key} failed: ${describeSdkError(error)}`, {
      cause: error,
    });
  }
  if (declared !== undefined && size !== declared) {
    throw new ObjectReadError(`s3://${bucket}/${key}: read ${size} bytes of ${declared}`);
  }
  return { status: 'read', bytes: Buffer.concat(chunks, size) };
}

/** Stops an unread body so its connection is released. */
function destroy(body: unknown): void {
  (body as { destroy?: () => void } | undefined)?.destroy?.();
}
