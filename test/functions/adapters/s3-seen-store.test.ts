import { createHash } from 'node:crypto';
import {
  GetObjectCommand,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
  type GetObjectCommandOutput,
} from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import { SeenStoreError } from '../../../functions/adapters/errors';
import { S3SeenStore, type S3SeenStoreOptions } from '../../../functions/adapters/s3-seen-store';
import { describeFailure } from '../../../functions/poller/errors';

const s3Mock = mockClient(S3Client);

const BUCKET = 'mail-archive';
const KEY = 'state/support.json';
const T1 = new Date('2025-03-04T10:00:00.000Z');
const T2 = new Date('2025-03-05T11:30:00.000Z');

function serviceError(name: string, httpStatusCode: number): S3ServiceException {
  return new S3ServiceException({
    name,
    $fault: httpStatusCode >= 500 ? 'server' : 'client',
    $metadata: { httpStatusCode },
    message: `${name} from the test`,
  });
}

/** A GetObject answer whose body is `text` (the SDK's stream mixin, reduced to what the store uses). */
function object(text: string, etag: string): GetObjectCommandOutput {
  return {
    $metadata: {},
    ETag: etag,
    Body: { transformToString: async () => text } as unknown as GetObjectCommandOutput['Body'],
  };
}

function putInputs() {
  return s3Mock.commandCalls(PutObjectCommand).map((c) => c.args[0].input);
}

function bodyOf(input: { Body?: unknown }): Record<string, string> {
  return JSON.parse((input.Body as Buffer).toString('utf8')) as Record<string, string>;
}

const sleeps: number[] = [];
function store(options: Partial<S3SeenStoreOptions> = {}): S3SeenStore {
  return new S3SeenStore(new S3Client({ region: 'eu-west-1' }), {
    bucket: BUCKET,
    prefix: 'state/',
    sleep: async (ms) => {
      sleeps.push(ms);
    },
    ...options,
  });
}

beforeEach(() => {
  s3Mock.reset();
  sleeps.length = 0;
});

describe('Class: S3SeenStore', () => {
  describe('reading', () => {
    it('reads the state with one GetObject, and a missing object is an empty state', async () => {
      s3Mock.on(GetObjectCommand).rejects(serviceError('NoSuchKey', 404));
      const seen = store();

      await expect(seen.seen('support', ['a', 'b'])).resolves.toEqual(new Map());
      await expect(seen.seen('support', ['a'])).resolves.toEqual(new Map());

      expect(s3Mock).toHaveReceivedCommandTimes(GetObjectCommand, 1);
      expect(s3Mock).toHaveReceivedCommandWith(GetObjectCommand, { Bucket: BUCKET, Key: KEY });
    });

    it('answers with the asked UIDLs that the stored object holds, with their times', async () => {
      s3Mock
        .on(GetObjectCommand)
        .resolves(object(JSON.stringify({ a: T1.toISOString(), c: T2.toISOString() }), '"e1"'));

      const answer = await store().seen('support', ['a', 'b', 'c']);

      expect(answer).toEqual(
        new Map([
          ['a', T1],
          ['c', T2],
        ]),
      );
    });

    it('refuses a state object that is not what it writes, as not retryable', async () => {
      for (const text of ['not json', '[1,2]', '{"a": 17}', '{"a": "yesterday"}']) {
        s3Mock.reset();
        s3Mock.on(GetObjectCommand).resolves(object(text, '"e1"'));
        const error = await store()
          .seen('support', ['a'])
          .catch((e: unknown) => e);
        expect(error).toBeInstanceOf(SeenStoreError);
        expect(describeFailure(error)).toMatchObject({
          code: 'ESTATE',
          retryable: false,
          needsAttention: true,
        });
        expect((error as Error).message).toContain(`s3://${BUCKET}/${KEY}`);
      }
    });

    it('reports S3 failures with their retryability, and a failed read is tried again', async () => {
      s3Mock
        .on(GetObjectCommand)
        .rejectsOnce(serviceError('AccessDenied', 403))
        .rejectsOnce(serviceError('SlowDown', 503))
        .resolves(object('{}', '"e1"'));
      // The object exists (the create-if-missing probe gets 412): the 403 is a real denial.
      s3Mock.on(PutObjectCommand).rejects(serviceError('PreconditionFailed', 412));
      const seen = store();

      await expect(seen.seen('support', ['a'])).rejects.toMatchObject({ code: 'ESTATE', retryable: false });
      await expect(seen.seen('support', ['a'])).rejects.toMatchObject({ code: 'ESTATE', retryable: true });
      await expect(seen.seen('support', ['a'])).resolves.toEqual(new Map());
      expect(s3Mock).toHaveReceivedCommandTimes(GetObjectCommand, 3);
    });
  });

  describe('writing', () => {
    it('creates a missing object with If-None-Match: *, a SHA-256 checksum and the exact JSON', async () => {
      s3Mock.on(GetObjectCommand).rejects(serviceError('NoSuchKey', 404));
      s3Mock.on(PutObjectCommand).resolves({ ETag: '"e2"' });
      const seen = store();
      await seen.seen('support', ['a', 'b']);
      await seen.add('support', ['a'], T1);
      await seen.add('support', ['b'], T2);
      expect(s3Mock).toHaveReceivedCommandTimes(PutObjectCommand, 0);

      await seen.flush();

      const body = Buffer.from(JSON.stringify({ a: T1.toISOString(), b: T2.toISOString() }), 'utf8');
      expect(putInputs()).toEqual([
        {
          Bucket: BUCKET,
          Key: KEY,
          Body: body,
          ContentLength: body.length,
          ContentType: 'application/json',
          ChecksumAlgorithm: 'SHA256',
          ChecksumSHA256: createHash('sha256').update(body).digest('base64'),
          IfNoneMatch: '*',
        },
      ]);
    });

    it('updates an existing object with If-Match on the ETag it read, then on the ETag it wrote', async () => {
      s3Mock.on(GetObjectCommand).resolves(object(JSON.stringify({ a: T1.toISOString() }), '"e1"'));
      s3Mock.on(PutObjectCommand).resolvesOnce({ ETag: '"e2"' }).resolvesOnce({ ETag: '"e3"' });
      const seen = store();
      await seen.seen('support', ['a', 'b']);

      await seen.add('support', ['b'], T2);
      await seen.flush('support');
      await seen.add('support', ['c'], T2);
      await seen.flush('support');

      const puts = putInputs();
      expect(puts.map((p) => [p.IfMatch, p.IfNoneMatch])).toEqual([
        ['"e1"', undefined],
        ['"e2"', undefined],
      ]);
      expect(bodyOf(puts[1]!)).toEqual({ a: T1.toISOString(), b: T2.toISOString(), c: T2.toISOString() });
    });

    it('keeps the first archive time of a UIDL added again', async () => {
      s3Mock.on(GetObjectCommand).resolves(object(JSON.stringify({ a: T1.toISOString() }), '"e1"'));
      const seen = store();

      await seen.add('support', ['a'], T2);
      await seen.flush();

      expect(s3Mock).toHaveReceivedCommandTimes(PutObjectCommand, 0);
      await expect(seen.seen('support', ['a'])).resolves.toEqual(new Map([['a', T1]]));
    });

    it('writes every `flushEvery` changes on its own, so a crash loses little', async () => {
      s3Mock.on(GetObjectCommand).rejects(serviceError('NoSuchKey', 404));
      s3Mock.on(PutObjectCommand).resolvesOnce({ ETag: '"e1"' }).resolvesOnce({ ETag: '"e2"' });
      const seen = store({ flushEvery: 3 });

      for (const uidl of ['u1', 'u2', 'u3', 'u4']) await seen.add('support', [uidl], T1);

      const puts = putInputs();
      expect(puts).toHaveLength(1);
      expect(puts[0]).toMatchObject({ IfNoneMatch: '*' });
      expect(Object.keys(bodyOf(puts[0]!))).toEqual(['u1', 'u2', 'u3']);

      await seen.flush();
      expect(putInputs()[1]).toMatchObject({ IfMatch: '"e1"' });
      expect(Object.keys(bodyOf(putInputs()[1]!))).toEqual(['u1', 'u2', 'u3', 'u4']);
    });

    it('writes forgotten UIDLs away', async () => {
      s3Mock
        .on(GetObjectCommand)
        .resolves(object(JSON.stringify({ a: T1.toISOString(), b: T1.toISOString() }), '"e1"'));
      s3Mock.on(PutObjectCommand).resolves({ ETag: '"e2"' });
      const seen = store();

      await seen.forget('support', ['a', 'not-there']);
      await seen.flush();

      expect(putInputs()).toHaveLength(1);
      expect(putInputs()[0]).toMatchObject({ IfMatch: '"e1"' });
      expect(bodyOf(putInputs()[0]!)).toEqual({ b: T1.toISOString() });
    });

    it('sends nothing when nothing changed', async () => {
      s3Mock.on(GetObjectCommand).rejects(serviceError('NoSuchKey', 404));
      const seen = store();
      await seen.flush();
      await seen.seen('support', ['a']);
      await seen.flush();
      expect(s3Mock).toHaveReceivedCommandTimes(PutObjectCommand, 0);
    });

    it('encrypts with the KMS key when one is given', async () => {
      s3Mock.on(GetObjectCommand).rejects(serviceError('NoSuchKey', 404));
      s3Mock.on(PutObjectCommand).resolves({ ETag: '"e1"' });
      const seen = store({ kmsKeyId: 'arn:aws:kms:eu-west-1:111122223333:key/abc' });
      await seen.add('support', ['a'], T1);
      await seen.flush();
      expect(putInputs()[0]).toMatchObject({
        ServerSideEncryption: 'aws:kms',
        SSEKMSKeyId: 'arn:aws:kms:eu-west-1:111122223333:key/abc',
        BucketKeyEnabled: true,
      });
    });

    it('round-trips UIDLs that are special words in JavaScript objects', async () => {
      s3Mock.on(GetObjectCommand).rejects(serviceError('NoSuchKey', 404));
      s3Mock.on(PutObjectCommand).resolves({ ETag: '"e1"' });
      const seen = store();
      await seen.add('support', ['__proto__', 'constructor'], T1);
      await seen.flush();
      const written = (putInputs()[0]!.Body as Buffer).toString('utf8');
      const iso = T1.toISOString();
      expect(written).toBe(`{"__proto__":"${iso}","constructor":"${iso}"}`);

      s3Mock.reset();
      s3Mock.on(GetObjectCommand).resolves(object(written, '"e1"'));
      await expect(store().seen('support', ['__proto__', 'constructor', 'toString'])).resolves.toEqual(
        new Map([
          ['__proto__', T1],
          ['constructor', T1],
        ]),
      );
    });
  });

  describe('two writers', () => {
    it('on 412 reads the object again, merges its own changes into it and writes on the new ETag', async () => {
      // This instance read the state at e1; another writer then added "theirs" (e2).
      s3Mock
        .on(GetObjectCommand)
        .resolvesOnce(object(JSON.stringify({ old: T1.toISOString() }), '"e1"'))
        .resolves(
          object(
            JSON.stringify({ old: T1.toISOString(), theirs: T2.toISOString(), gone: T1.toISOString() }),
            '"e2"',
          ),
        );
      s3Mock
        .on(PutObjectCommand)
        .rejectsOnce(serviceError('PreconditionFailed', 412))
        .resolves({ ETag: '"e3"' });
      const seen = store();
      await seen.seen('support', ['old']);
      await seen.add('support', ['mine'], T1);
      await seen.forget('support', ['gone']);

      await seen.flush();

      const puts = putInputs();
      expect(puts.map((p) => p.IfMatch)).toEqual(['"e1"', '"e2"']);
      expect(bodyOf(puts[1]!)).toEqual({
        old: T1.toISOString(),
        theirs: T2.toISOString(),
        mine: T1.toISOString(),
      });
      expect(s3Mock).toHaveReceivedCommandTimes(GetObjectCommand, 2);
      expect(sleeps).toHaveLength(1);
    });

    it('on 412 to a create, merges into the object the other writer created', async () => {
      s3Mock
        .on(GetObjectCommand)
        .rejectsOnce(serviceError('NoSuchKey', 404))
        .resolves(object(JSON.stringify({ theirs: T2.toISOString(), mine: T2.toISOString() }), '"e1"'));
      s3Mock
        .on(PutObjectCommand)
        .rejectsOnce(serviceError('PreconditionFailed', 412))
        .resolves({ ETag: '"e2"' });
      const seen = store();
      await seen.add('support', ['mine'], T1);

      await seen.flush();

      const puts = putInputs();
      expect(puts[0]).toMatchObject({ IfNoneMatch: '*' });
      expect(puts[0]!.IfMatch).toBeUndefined();
      expect(puts[1]).toMatchObject({ IfMatch: '"e1"' });
      expect(puts[1]!.IfNoneMatch).toBeUndefined();
      // The other writer archived "mine" first: its earlier time is kept.
      expect(bodyOf(puts[1]!)).toEqual({ theirs: T2.toISOString(), mine: T2.toISOString() });
    });

    it('on 409 or 404 to an If-Match write, reads again and retries', async () => {
      s3Mock
        .on(GetObjectCommand)
        .resolvesOnce(object('{}', '"e1"'))
        .resolvesOnce(object('{}', '"e2"'))
        .rejects(serviceError('NoSuchKey', 404));
      s3Mock
        .on(PutObjectCommand)
        .rejectsOnce(serviceError('ConditionalRequestConflict', 409))
        .rejectsOnce(serviceError('NoSuchKey', 404))
        .resolves({ ETag: '"e3"' });
      const seen = store();
      await seen.add('support', ['a'], T1);

      await seen.flush();

      expect(putInputs().map((p) => [p.IfMatch, p.IfNoneMatch])).toEqual([
        ['"e1"', undefined],
        ['"e2"', undefined],
        [undefined, '*'],
      ]);
      expect(bodyOf(putInputs()[2]!)).toEqual({ a: T1.toISOString() });
    });

    it('gives up after maxAttempts conflicts, retryable, and keeps the changes for the next flush', async () => {
      s3Mock.on(GetObjectCommand).resolves(object('{}', '"e1"'));
      s3Mock.on(PutObjectCommand).rejects(serviceError('PreconditionFailed', 412));
      const seen = store({ maxAttempts: 3 });
      await seen.add('support', ['a'], T1);

      await expect(seen.flush()).rejects.toMatchObject({ code: 'ESTATE', retryable: true });
      expect(s3Mock).toHaveReceivedCommandTimes(PutObjectCommand, 3);

      s3Mock.on(PutObjectCommand).resolves({ ETag: '"e2"' });
      await seen.flush();
      expect(bodyOf(putInputs()[3]!)).toEqual({ a: T1.toISOString() });
    });

    it('reports other S3 write failures with their retryability and keeps the changes', async () => {
      s3Mock.on(GetObjectCommand).rejects(serviceError('NoSuchKey', 404));
      s3Mock
        .on(PutObjectCommand)
        .rejectsOnce(serviceError('AccessDenied', 403))
        .rejectsOnce(serviceError('InternalError', 500))
        .resolves({ ETag: '"e1"' });
      const seen = store();
      await seen.add('support', ['a'], T1);

      await expect(seen.flush()).rejects.toMatchObject({ code: 'ESTATE', retryable: false });
      await expect(seen.flush()).rejects.toMatchObject({ code: 'ESTATE', retryable: true });
      await seen.flush();

      expect(putInputs()).toHaveLength(3);
      expect(bodyOf(putInputs()[2]!)).toEqual({ a: T1.toISOString() });
      expect(putInputs()[2]).toMatchObject({ IfNoneMatch: '*' });
    });

    it('never overlaps writes of one account, and loses no change made during a write', async () => {
      s3Mock.on(GetObjectCommand).rejects(serviceError('NoSuchKey', 404));
      let inFlight = 0;
      let maxInFlight = 0;
      let etag = 0;
      s3Mock.on(PutObjectCommand).callsFake(async () => {
        inFlight += 1;
        maxInFlight = Math.max(maxInFlight, inFlight);
        await new Promise((r) => setTimeout(r, 5));
        inFlight -= 1;
        return { ETag: `"e${++etag}"` };
      });
      const seen = store({ flushEvery: 2 });

      await Promise.all(Array.from({ length: 9 }, (_, i) => seen.add('support', [`u${i}`], T1)));
      await seen.flush();

      expect(maxInFlight).toBe(1);
      const puts = putInputs();
      expect(puts[0]).toMatchObject({ IfNoneMatch: '*' });
      puts.slice(1).forEach((p, i) => expect(p.IfMatch).toBe(`"e${i + 1}"`));
      expect(Object.keys(bodyOf(puts.at(-1)!)).sort()).toEqual(
        Array.from({ length: 9 }, (_, i) => `u${i}`).sort(),
      );
    });
  });

  it('rejects bad options', () => {
    const client = new S3Client({ region: 'eu-west-1' });
    expect(() => new S3SeenStore(client, { bucket: '' })).toThrow('bucket is required');
    expect(() => new S3SeenStore(client, { bucket: 'b', flushEvery: 0 })).toThrow('flushEvery');
    expect(() => new S3SeenStore(client, { bucket: 'b', maxAttempts: 0 })).toThrow('maxAttempts');
  });
});

describe('Class: S3SeenStore without s3:ListBucket (403 for a missing key)', () => {
  const denied = () =>
    Object.assign(new Error('Access Denied'), { name: 'AccessDenied', $metadata: { httpStatusCode: 403 } });
  const conflict = () =>
    Object.assign(new Error('At least one of the pre-conditions you specified did not hold'), {
      name: 'PreconditionFailed',
      $metadata: { httpStatusCode: 412 },
    });
  const s3 = mockClient(S3Client);
  beforeEach(() => s3.reset());

  it('takes a 403 as "no state yet" once an If-None-Match write of an empty state succeeds', async () => {
    s3.on(GetObjectCommand).rejects(denied());
    s3.on(PutObjectCommand).resolves({ ETag: '"e1"' });
    const store = new S3SeenStore(s3 as unknown as S3Client, { bucket: 'b', prefix: 'state/' });

    await expect(store.seen('box', ['u1'])).resolves.toEqual(new Map());

    const put = s3.commandCalls(PutObjectCommand)[0]!.args[0].input;
    expect(put).toMatchObject({ Bucket: 'b', Key: 'state/box.json', IfNoneMatch: '*' });
    expect(Buffer.from(put.Body as Buffer).toString()).toBe('{}');
  });

  it('reports the denial when the object exists (412 to the create), and overwrites nothing', async () => {
    s3.on(GetObjectCommand).rejects(denied());
    s3.on(PutObjectCommand).rejects(conflict());
    const store = new S3SeenStore(s3 as unknown as S3Client, { bucket: 'b', prefix: 'state/' });

    await expect(store.seen('box', ['u1'])).rejects.toThrow(
      /reading keep-mode state s3:\/\/b\/state\/box\.json failed: AccessDenied/,
    );
    expect(s3.commandCalls(PutObjectCommand)).toHaveLength(1);
    expect(s3.commandCalls(PutObjectCommand)[0]!.args[0].input.IfNoneMatch).toBe('*');
  });
});
