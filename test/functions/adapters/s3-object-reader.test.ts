import { Readable } from 'node:stream';
import { GetObjectCommand, S3Client, S3ServiceException } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import { ObjectReadError } from '../../../functions/adapters/errors';
import { readObjectBytes } from '../../../functions/adapters/s3-object-reader';

const s3 = mockClient(S3Client);
const client = new S3Client({ region: 'eu-west-1' });

/** A body that records whether it was read to its end or destroyed. */
function body(chunks: Buffer[]) {
  const stream = Readable.from(chunks);
  const destroyed = jest.spyOn(stream, 'destroy');
  return { stream, destroyed };
}

beforeEach(() => s3.reset());

describe('Function: readObjectBytes', () => {
  it('returns the bytes exactly, from one GetObject of the bucket and key', async () => {
    const bytes = Buffer.from([0x53, 0x3a, 0x20, 0x00, 0xff, 0x0d, 0x0a]);
    s3.on(GetObjectCommand).resolves({
      Body: Readable.from([bytes.subarray(0, 3), bytes.subarray(3)]) as never,
      ContentLength: 7,
    });

    const read = await readObjectBytes(client, 'inbound', 'ses/id1', 100);

    expect(read.status).toBe('read');
    expect(read.status === 'read' && read.bytes.equals(bytes)).toBe(true);
    expect(s3.calls()).toHaveLength(1);
    expect(s3.commandCalls(GetObjectCommand)[0]!.args[0].input).toEqual({
      Bucket: 'inbound',
      Key: 'ses/id1',
    });
  });

  it('does not read a body whose declared length is over the limit', async () => {
    const { stream, destroyed } = body([Buffer.alloc(10)]);
    s3.on(GetObjectCommand).resolves({ Body: stream as never, ContentLength: 101 });

    await expect(readObjectBytes(client, 'inbound', 'k', 100)).resolves.toEqual({
      status: 'too-large',
      size: 101,
    });
    expect(destroyed).toHaveBeenCalled();
  });

  it('stops reading at the limit when the body runs past it', async () => {
    const { stream, destroyed } = body([Buffer.alloc(60), Buffer.alloc(60), Buffer.alloc(60)]);
    s3.on(GetObjectCommand).resolves({ Body: stream as never });

    await expect(readObjectBytes(client, 'inbound', 'k', 100)).resolves.toEqual({
      status: 'too-large',
      size: undefined,
    });
    expect(destroyed).toHaveBeenCalled();
  });

  it('says an object that is not there is missing (404 NoSuchKey)', async () => {
    s3.on(GetObjectCommand).rejects(
      new S3ServiceException({
        name: 'NoSuchKey',
        $fault: 'client',
        $metadata: { httpStatusCode: 404 },
        message: 'gone',
      }),
    );
    await expect(readObjectBytes(client, 'inbound', 'k', 100)).resolves.toEqual({ status: 'missing' });
  });

  it('throws ObjectReadError naming the object for other failures, and for a short body', async () => {
    s3.on(GetObjectCommand).rejectsOnce(
      new S3ServiceException({
        name: 'AccessDenied',
        $fault: 'client',
        $metadata: { httpStatusCode: 403 },
        message: 'denied',
      }),
    );
    const failure = readObjectBytes(client, 'inbound', 'ses/x', 100);
    await expect(failure).rejects.toBeInstanceOf(ObjectReadError);
    await expect(failure).rejects.toThrow('S3 GetObject s3://inbound/ses/x failed: AccessDenied: denied');
    s3.on(GetObjectCommand).resolves({ Body: Readable.from([Buffer.alloc(5)]) as never, ContentLength: 9 });
    await expect(readObjectBytes(client, 'inbound', 'ses/x', 100)).rejects.toThrow(
      's3://inbound/ses/x: read 5 bytes of 9',
    );
  });
});
