import { createHash, randomUUID } from 'node:crypto';
import * as zlib from 'node:zlib';
import { Crc32c, Crc64Nvme } from '@aws-sdk/checksums/crc';
import { StubError, header, xmlFields, xmlResponse, type StubRequest, type StubResponse } from './http';

/**
 * S3, REST-XML, path-style (`/<bucket>/<key>`; the SDK uses path style by itself for an IP
 * endpoint). Buckets exist as soon as they are named. Objects are kept byte-exact in memory.
 */

const MiB = 1024 * 1024;
const MIN_PART_BYTES = 5 * MiB;
const ALGORITHMS = ['crc32', 'crc32c', 'crc64nvme', 'sha1', 'sha256'] as const;
type Algorithm = (typeof ALGORITHMS)[number];

export interface S3Checksum {
  readonly algorithm: Algorithm;
  /** Base64, with `-N` for a composite multipart checksum. */
  readonly value: string;
  readonly type: 'FULL_OBJECT' | 'COMPOSITE';
}

export interface S3Object {
  readonly body: Buffer;
  readonly etag: string;
  readonly contentType: string | undefined;
  readonly metadata: Readonly<Record<string, string>>;
  /** The checksum S3 keeps (the one sent; CRC64NVME computed when none was sent, as S3 does). */
  readonly checksum: S3Checksum;
  readonly lastModified: Date;
  /** Other headers kept and echoed: x-amz-server-side-encryption*, content-encoding, cache-control… */
  readonly stored: Readonly<Record<string, string>>;
  readonly parts: number | undefined;
}

interface Upload {
  readonly bucket: string;
  readonly key: string;
  readonly contentType: string | undefined;
  readonly metadata: Record<string, string>;
  readonly stored: Record<string, string>;
  readonly algorithm: Algorithm | undefined;
  readonly checksumType: 'FULL_OBJECT' | 'COMPOSITE';
  readonly parts: Map<number, { body: Buffer; etag: string; checksum: string | undefined }>;
}

export async function checksumOf(algorithm: Algorithm, bytes: Buffer): Promise<string> {
  switch (algorithm) {
    case 'sha1':
    case 'sha256':
      return createHash(algorithm).update(bytes).digest('base64');
    case 'crc32': {
      const out = Buffer.alloc(4);
      out.writeUInt32BE(zlib.crc32(bytes) >>> 0);
      return out.toString('base64');
    }
    case 'crc32c':
    case 'crc64nvme': {
      const hash = algorithm === 'crc32c' ? new Crc32c() : new Crc64Nvme();
      hash.update(bytes);
      return Buffer.from(await hash.digest()).toString('base64');
    }
  }
}

function rawChecksum(algorithm: Algorithm, bytes: Buffer): Promise<Buffer> {
  return checksumOf(algorithm, bytes).then((b64) => Buffer.from(b64, 'base64'));
}

const md5 = (bytes: Buffer): string => createHash('md5').update(bytes).digest('hex');
const unquote = (etag: string): string => etag.trim().replace(/^W\//, '').replace(/^"|"$/g, '');

/** Decodes an `aws-chunked` body: `<hex>[;ext]\r\n<bytes>\r\n … 0\r\n<trailer lines>\r\n`. */
export function decodeAwsChunked(raw: Buffer): { data: Buffer; trailers: Record<string, string> } {
  const chunks: Buffer[] = [];
  const trailers: Record<string, string> = {};
  const bad = (why: string): StubError => new StubError(400, 'IncompleteBody', `aws-chunked body: ${why}`);
  let pos = 0;
  for (;;) {
    const eol = raw.indexOf('\r\n', pos);
    if (eol < 0) throw bad('chunk header without CRLF');
    const sizeText = raw.subarray(pos, eol).toString('latin1').split(';')[0]!.trim();
    if (!/^[0-9a-fA-F]+$/.test(sizeText)) throw bad(`bad chunk size "${sizeText}"`);
    const size = parseInt(sizeText, 16);
    pos = eol + 2;
    if (size === 0) break;
    if (pos + size + 2 > raw.length) throw bad('truncated chunk');
    chunks.push(raw.subarray(pos, pos + size));
    pos += size;
    if (raw.subarray(pos, pos + 2).toString('latin1') !== '\r\n') throw bad('chunk not followed by CRLF');
    pos += 2;
  }
  while (pos < raw.length) {
    const eol = raw.indexOf('\r\n', pos);
    const line = raw.subarray(pos, eol < 0 ? raw.length : eol).toString('latin1');
    pos = eol < 0 ? raw.length : eol + 2;
    if (line === '') break;
    const colon = line.indexOf(':');
    if (colon < 0) throw bad(`bad trailer line "${line}"`);
    trailers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  return { data: Buffer.concat(chunks), trailers };
}

export class S3Stub {
  private readonly buckets = new Map<string, Map<string, S3Object>>();
  private readonly openUploads = new Map<string, Upload>();
  private missingKey: 'NoSuchKey' | 'AccessDenied' = 'NoSuchKey';

  // ---- test-side API ----

  /** The stored bytes, or undefined. */
  object(bucket: string, key: string): Buffer | undefined {
    return this.buckets.get(bucket)?.get(key)?.body;
  }
  /** Everything kept about an object (ETag, metadata, checksum, content type). */
  info(bucket: string, key: string): S3Object | undefined {
    return this.buckets.get(bucket)?.get(key);
  }
  keys(bucket: string): string[] {
    return [...(this.buckets.get(bucket)?.keys() ?? [])].sort();
  }
  /** Seeds an object as a PutObject without a checksum would store it. */
  async put(bucket: string, key: string, body: Buffer | string, contentType?: string): Promise<void> {
    const bytes = Buffer.from(body);
    this.bucket(bucket).set(key, {
      body: bytes,
      etag: `"${md5(bytes)}"`,
      contentType,
      metadata: {},
      checksum: { algorithm: 'crc64nvme', value: await checksumOf('crc64nvme', bytes), type: 'FULL_OBJECT' },
      lastModified: new Date(),
      stored: {},
      parts: undefined,
    });
  }
  delete(bucket: string, key: string): void {
    this.buckets.get(bucket)?.delete(key);
  }
  /** Multipart uploads created and neither completed nor aborted. */
  uploads(): Array<{ uploadId: string; bucket: string; key: string; parts: number }> {
    return [...this.openUploads].map(([uploadId, u]) => ({
      uploadId,
      bucket: u.bucket,
      key: u.key,
      parts: u.parts.size,
    }));
  }
  /** How a missing key is answered: 404 NoSuchKey, or 403 AccessDenied (S3 without s3:ListBucket). */
  missingKeyAs(answer: 'NoSuchKey' | 'AccessDenied'): void {
    this.missingKey = answer;
  }
  reset(): void {
    this.buckets.clear();
    this.openUploads.clear();
    this.missingKey = 'NoSuchKey';
  }

  // ---- protocol ----

  /** The operation a request is, or undefined when the stub does not know it. */
  operation(req: StubRequest): string {
    const { bucket, key } = target(req);
    const q = req.query;
    const has = (name: string): boolean => q.has(name);
    if (!bucket) return req.method === 'GET' ? 'ListBuckets' : `Unknown(${req.method} /)`;
    if (key === undefined) {
      if (req.method === 'GET' && q.get('list-type') === '2') return 'ListObjectsV2';
      if (req.method === 'GET' && q.size === 0) return 'ListObjects';
      if (req.method === 'HEAD') return 'HeadBucket';
      if (req.method === 'PUT' && q.size === 0) return 'CreateBucket';
      if (req.method === 'POST' && has('delete')) return 'DeleteObjects';
      return q.get('x-id') ?? `Unknown(${req.method} bucket?${[...q.keys()].join('&')})`;
    }
    const xid = q.get('x-id');
    if (xid) return xid;
    switch (req.method) {
      case 'GET':
        return has('uploadId')
          ? 'ListParts'
          : q.size === 0
            ? 'GetObject'
            : `Unknown(GET object?${[...q.keys()]})`;
      case 'HEAD':
        return 'HeadObject';
      case 'PUT':
        if (has('partNumber') && has('uploadId'))
          return header(req, 'x-amz-copy-source') ? 'UploadPartCopy' : 'UploadPart';
        if (header(req, 'x-amz-copy-source')) return 'CopyObject';
        return q.size === 0 ? 'PutObject' : `Unknown(PUT object?${[...q.keys()]})`;
      case 'POST':
        if (has('uploads')) return 'CreateMultipartUpload';
        if (has('uploadId')) return 'CompleteMultipartUpload';
        return `Unknown(POST object?${[...q.keys()]})`;
      case 'DELETE':
        return has('uploadId') ? 'AbortMultipartUpload' : 'DeleteObject';
    }
    return `Unknown(${req.method})`;
  }

  readonly operations: Readonly<Record<string, (req: StubRequest) => Promise<StubResponse> | StubResponse>> =
    {
      PutObject: (req) => this.putObject(req),
      GetObject: (req) => this.getObject(req, true),
      HeadObject: (req) => this.getObject(req, false),
      DeleteObject: (req) => this.deleteObject(req),
      ListObjectsV2: (req) => this.listObjectsV2(req),
      CreateBucket: (req) => {
        this.bucket(target(req).bucket);
        return { status: 200, headers: { location: `/${target(req).bucket}` }, body: Buffer.alloc(0) };
      },
      HeadBucket: () => ({ status: 200, headers: {}, body: Buffer.alloc(0) }),
      CreateMultipartUpload: (req) => this.createMultipartUpload(req),
      UploadPart: (req) => this.uploadPart(req),
      CompleteMultipartUpload: (req) => this.completeMultipartUpload(req),
      AbortMultipartUpload: (req) => this.abortMultipartUpload(req),
    };

  errorResponse(_req: StubRequest, error: StubError): StubResponse {
    const response = xmlResponse(
      error.status,
      `<Error>${xmlFields({ Code: error.code, Message: error.message, ...error.extra })}</Error>`,
    );
    // A HEAD answer goes out without its body (the server drops it): the SDK then names the error
    // after the status (NotFound, Forbidden…); the call log still reads the code from it.
    return response;
  }

  private bucket(name: string): Map<string, S3Object> {
    let bucket = this.buckets.get(name);
    if (!bucket) this.buckets.set(name, (bucket = new Map()));
    return bucket;
  }

  private missing(key: string): StubError {
    return this.missingKey === 'AccessDenied'
      ? new StubError(403, 'AccessDenied', 'Access Denied')
      : new StubError(404, 'NoSuchKey', 'The specified key does not exist.', { Key: key });
  }

  /** If-None-Match / If-Match of a write (PutObject, CompleteMultipartUpload). */
  private checkWriteConditions(req: StubRequest, existing: S3Object | undefined, key: string): void {
    const ifNoneMatch = header(req, 'if-none-match');
    if (ifNoneMatch !== undefined) {
      if (ifNoneMatch.trim() !== '*') {
        throw new StubError(501, 'NotImplemented', 'If-None-Match on a write accepts only *');
      }
      if (existing)
        throw new StubError(
          412,
          'PreconditionFailed',
          'At least one of the pre-conditions you specified did not hold',
          {
            Condition: 'If-None-Match',
          },
        );
    }
    const ifMatch = header(req, 'if-match');
    if (ifMatch !== undefined) {
      if (!existing) throw new StubError(404, 'NoSuchKey', 'The specified key does not exist.', { Key: key });
      if (ifMatch.trim() !== '*' && unquote(ifMatch) !== unquote(existing.etag)) {
        throw new StubError(
          412,
          'PreconditionFailed',
          'At least one of the pre-conditions you specified did not hold',
          {
            Condition: 'If-Match',
          },
        );
      }
    }
  }

  /** The payload (aws-chunked decoded) after verifying every checksum sent with it. */
  private async payload(req: StubRequest): Promise<{ data: Buffer; checksums: Map<Algorithm, string> }> {
    let data = req.body;
    let trailers: Record<string, string> = {};
    const encodings = (header(req, 'content-encoding') ?? '').split(',').map((e) => e.trim());
    const sha256Header = header(req, 'x-amz-content-sha256') ?? '';
    if (encodings.includes('aws-chunked') || sha256Header.startsWith('STREAMING-')) {
      ({ data, trailers } = decodeAwsChunked(req.body));
      const declared = header(req, 'x-amz-decoded-content-length');
      if (declared !== undefined && Number(declared) !== data.length) {
        throw new StubError(
          400,
          'IncompleteBody',
          `x-amz-decoded-content-length ${declared} but the decoded body has ${data.length} bytes`,
        );
      }
    }
    const declaredTrailer = header(req, 'x-amz-trailer');
    if (declaredTrailer && trailers[declaredTrailer.toLowerCase()] === undefined) {
      throw new StubError(
        400,
        'MalformedTrailerError',
        `trailer ${declaredTrailer} was declared but not sent`,
      );
    }
    const checksums = new Map<Algorithm, string>();
    for (const algorithm of ALGORITHMS) {
      const name = `x-amz-checksum-${algorithm}`;
      const sent = trailers[name] ?? header(req, name);
      if (sent === undefined) continue;
      const actual = await checksumOf(algorithm, data);
      if (sent !== actual) {
        throw new StubError(
          400,
          'BadDigest',
          `The ${algorithm.toUpperCase()} you specified did not match the calculated checksum.`,
        );
      }
      checksums.set(algorithm, actual);
    }
    const contentMd5 = header(req, 'content-md5');
    if (contentMd5 !== undefined && contentMd5 !== createHash('md5').update(data).digest('base64')) {
      throw new StubError(400, 'BadDigest', 'The Content-MD5 you specified did not match what we received.');
    }
    return { data, checksums };
  }

  private async putObject(req: StubRequest): Promise<StubResponse> {
    const { bucket, key } = target(req);
    const { data, checksums } = await this.payload(req);
    this.checkWriteConditions(req, this.buckets.get(bucket)?.get(key!), key!);
    const [first] = checksums;
    const checksum: S3Checksum = first
      ? { algorithm: first[0], value: first[1], type: 'FULL_OBJECT' }
      : { algorithm: 'crc64nvme', value: await checksumOf('crc64nvme', data), type: 'FULL_OBJECT' };
    const object: S3Object = {
      body: data,
      etag: `"${md5(data)}"`,
      contentType: header(req, 'content-type'),
      metadata: metadataOf(req),
      checksum,
      lastModified: new Date(),
      stored: storedHeaders(req),
      parts: undefined,
    };
    this.bucket(bucket).set(key!, object);
    return {
      status: 200,
      headers: { etag: object.etag, ...checksumHeaders(checksum), ...object.stored },
      body: Buffer.alloc(0),
    };
  }

  private getObject(req: StubRequest, withBody: boolean): StubResponse {
    const { bucket, key } = target(req);
    const object = this.buckets.get(bucket)?.get(key!);
    if (!object) throw this.missing(key!);
    if (header(req, 'range') !== undefined || req.query.has('partNumber')) {
      throw new StubError(
        400,
        'NotImplemented',
        'the stub serves whole objects only (no Range, no partNumber)',
      );
    }
    const ifMatch = header(req, 'if-match');
    if (ifMatch !== undefined && ifMatch.trim() !== '*' && unquote(ifMatch) !== unquote(object.etag)) {
      throw new StubError(
        412,
        'PreconditionFailed',
        'At least one of the pre-conditions you specified did not hold',
        {
          Condition: 'If-Match',
        },
      );
    }
    const ifNoneMatch = header(req, 'if-none-match');
    if (
      ifNoneMatch !== undefined &&
      (ifNoneMatch.trim() === '*' || unquote(ifNoneMatch) === unquote(object.etag))
    ) {
      return { status: 304, headers: { etag: object.etag }, body: Buffer.alloc(0) };
    }
    const headers: Record<string, string> = {
      'content-length': String(object.body.length),
      etag: object.etag,
      'last-modified': object.lastModified.toUTCString(),
      'accept-ranges': 'bytes',
      ...object.stored,
    };
    if (object.contentType !== undefined) headers['content-type'] = object.contentType;
    for (const [name, value] of Object.entries(object.metadata)) headers[`x-amz-meta-${name}`] = value;
    if (object.parts !== undefined) headers['x-amz-mp-parts-count'] = String(object.parts);
    if ((header(req, 'x-amz-checksum-mode') ?? '').toUpperCase() === 'ENABLED') {
      Object.assign(headers, checksumHeaders(object.checksum));
    }
    return { status: 200, headers, body: withBody ? object.body : Buffer.alloc(0) };
  }

  private deleteObject(req: StubRequest): StubResponse {
    const { bucket, key } = target(req);
    this.buckets.get(bucket)?.delete(key!);
    return { status: 204, headers: {}, body: Buffer.alloc(0) };
  }

  private listObjectsV2(req: StubRequest): StubResponse {
    const { bucket } = target(req);
    const q = req.query;
    if (q.get('delimiter'))
      throw new StubError(400, 'NotImplemented', 'the stub lists without a delimiter only');
    const prefix = q.get('prefix') ?? '';
    const maxKeys = Math.min(1000, Number(q.get('max-keys') ?? 1000));
    const token = q.get('continuation-token');
    const after = token ? Buffer.from(token, 'base64').toString('utf8') : (q.get('start-after') ?? '');
    const keys = this.keys(bucket).filter((k) => k.startsWith(prefix) && k > after);
    const page = keys.slice(0, maxKeys);
    const truncated = keys.length > page.length;
    const objects = this.buckets.get(bucket);
    const contents = page
      .map((k) => {
        const o = objects!.get(k)!;
        return `<Contents>${xmlFields({
          Key: k,
          LastModified: o.lastModified.toISOString(),
          ETag: o.etag,
          Size: o.body.length,
          StorageClass: 'STANDARD',
        })}</Contents>`;
      })
      .join('');
    const next = truncated ? Buffer.from(page[page.length - 1]!, 'utf8').toString('base64') : undefined;
    return xmlResponse(
      200,
      `<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">${xmlFields({
        Name: bucket,
        Prefix: prefix,
        KeyCount: page.length,
        MaxKeys: maxKeys,
        IsTruncated: String(truncated),
        ContinuationToken: token ?? undefined,
        NextContinuationToken: next,
      })}${contents}</ListBucketResult>`,
    );
  }

  private createMultipartUpload(req: StubRequest): StubResponse {
    const { bucket, key } = target(req);
    const algorithmHeader = header(req, 'x-amz-checksum-algorithm')?.toLowerCase();
    if (algorithmHeader !== undefined && !(ALGORITHMS as readonly string[]).includes(algorithmHeader)) {
      throw new StubError(400, 'InvalidRequest', `unknown checksum algorithm ${algorithmHeader}`);
    }
    const algorithm = algorithmHeader as Algorithm | undefined;
    const typeHeader = header(req, 'x-amz-checksum-type')?.toUpperCase();
    const checksumType =
      typeHeader === 'FULL_OBJECT' || typeHeader === 'COMPOSITE'
        ? typeHeader
        : algorithm === 'sha1' || algorithm === 'sha256'
          ? 'COMPOSITE'
          : 'FULL_OBJECT';
    if (checksumType === 'FULL_OBJECT' && (algorithm === 'sha1' || algorithm === 'sha256')) {
      throw new StubError(400, 'InvalidRequest', `${algorithm} supports only COMPOSITE multipart checksums`);
    }
    const uploadId = randomUUID();
    this.openUploads.set(uploadId, {
      bucket,
      key: key!,
      contentType: header(req, 'content-type'),
      metadata: metadataOf(req),
      stored: storedHeaders(req),
      algorithm,
      checksumType,
      parts: new Map(),
    });
    const headers: Record<string, string> = {};
    if (algorithm) {
      headers['x-amz-checksum-algorithm'] = algorithm.toUpperCase();
      headers['x-amz-checksum-type'] = checksumType;
    }
    return xmlResponse(
      200,
      `<InitiateMultipartUploadResult>${xmlFields({ Bucket: bucket, Key: key, UploadId: uploadId })}</InitiateMultipartUploadResult>`,
      headers,
    );
  }

  private upload(req: StubRequest): Upload {
    const { bucket, key } = target(req);
    const upload = this.openUploads.get(req.query.get('uploadId') ?? '');
    if (!upload || upload.bucket !== bucket || upload.key !== key) {
      throw new StubError(404, 'NoSuchUpload', 'The specified upload does not exist.');
    }
    return upload;
  }

  private async uploadPart(req: StubRequest): Promise<StubResponse> {
    const upload = this.upload(req);
    const partNumber = Number(req.query.get('partNumber'));
    if (!Number.isInteger(partNumber) || partNumber < 1 || partNumber > 10_000) {
      throw new StubError(400, 'InvalidArgument', 'Part number must be an integer between 1 and 10000');
    }
    const { data, checksums } = await this.payload(req);
    let checksum: string | undefined;
    if (upload.algorithm) {
      checksum = checksums.get(upload.algorithm) ?? (await checksumOf(upload.algorithm, data));
    }
    const etag = `"${md5(data)}"`;
    upload.parts.set(partNumber, { body: data, etag, checksum });
    const headers: Record<string, string> = { etag };
    if (upload.algorithm && checksum) headers[`x-amz-checksum-${upload.algorithm}`] = checksum;
    return { status: 200, headers, body: Buffer.alloc(0) };
  }

  private async completeMultipartUpload(req: StubRequest): Promise<StubResponse> {
    const upload = this.upload(req);
    const xml = req.body.toString('utf8');
    const listed = [...xml.matchAll(/<Part>([\s\S]*?)<\/Part>/g)].map((m) => {
      const field = (name: string): string | undefined =>
        new RegExp(`<${name}>([\\s\\S]*?)</${name}>`).exec(m[1]!)?.[1]?.replace(/&quot;|&#34;/g, '"');
      return {
        partNumber: Number(field('PartNumber')),
        etag: field('ETag'),
        checksum: upload.algorithm ? field(`Checksum${upload.algorithm.toUpperCase()}`) : undefined,
      };
    });
    if (listed.length === 0) throw new StubError(400, 'MalformedXML', 'no parts listed');
    const parts = listed.map((p, i) => {
      if (i > 0 && p.partNumber <= listed[i - 1]!.partNumber) {
        throw new StubError(400, 'InvalidPartOrder', 'The list of parts was not in ascending order.');
      }
      const part = upload.parts.get(p.partNumber);
      if (!part || (p.etag !== undefined && unquote(p.etag) !== unquote(part.etag))) {
        throw new StubError(400, 'InvalidPart', `part ${p.partNumber} was not uploaded or its ETag differs`);
      }
      if (p.checksum !== undefined && p.checksum !== part.checksum) {
        throw new StubError(
          400,
          'InvalidPart',
          `part ${p.partNumber}'s checksum differs from the uploaded part's`,
        );
      }
      if (i < listed.length - 1 && part.body.length < MIN_PART_BYTES) {
        throw new StubError(
          400,
          'EntityTooSmall',
          'Your proposed upload is smaller than the minimum allowed size',
        );
      }
      return part;
    });
    const body = Buffer.concat(parts.map((p) => p.body));
    const declaredSize = header(req, 'x-amz-mp-object-size');
    if (declaredSize !== undefined && Number(declaredSize) !== body.length) {
      throw new StubError(
        400,
        'InvalidRequest',
        `x-amz-mp-object-size ${declaredSize} but the parts hold ${body.length} bytes`,
      );
    }
    const existing = this.buckets.get(upload.bucket)?.get(upload.key);
    this.checkWriteConditions(req, existing, upload.key);
    let checksum: S3Checksum;
    if (!upload.algorithm) {
      checksum = { algorithm: 'crc64nvme', value: await checksumOf('crc64nvme', body), type: 'FULL_OBJECT' };
    } else if (upload.checksumType === 'COMPOSITE') {
      const raw = Buffer.concat(parts.map((p) => Buffer.from(p.checksum!, 'base64')));
      const value = `${(await rawChecksum(upload.algorithm, raw)).toString('base64')}-${parts.length}`;
      checksum = { algorithm: upload.algorithm, value, type: 'COMPOSITE' };
    } else {
      checksum = {
        algorithm: upload.algorithm,
        value: await checksumOf(upload.algorithm, body),
        type: 'FULL_OBJECT',
      };
    }
    const etagRaw = Buffer.concat(parts.map((p) => Buffer.from(unquote(p.etag), 'hex')));
    const object: S3Object = {
      body,
      etag: `"${md5(etagRaw)}-${parts.length}"`,
      contentType: upload.contentType,
      metadata: upload.metadata,
      checksum,
      lastModified: new Date(),
      stored: upload.stored,
      parts: parts.length,
    };
    this.bucket(upload.bucket).set(upload.key, object);
    this.openUploads.delete(req.query.get('uploadId')!);
    return xmlResponse(
      200,
      `<CompleteMultipartUploadResult>${xmlFields({
        Location: `/${upload.bucket}/${upload.key}`,
        Bucket: upload.bucket,
        Key: upload.key,
        ETag: object.etag,
        [`Checksum${checksum.algorithm.toUpperCase()}`]: checksum.value,
        ChecksumType: checksum.type,
      })}</CompleteMultipartUploadResult>`,
      object.stored,
    );
  }

  private abortMultipartUpload(req: StubRequest): StubResponse {
    this.upload(req);
    this.openUploads.delete(req.query.get('uploadId')!);
    return { status: 204, headers: {}, body: Buffer.alloc(0) };
  }
}

function target(req: StubRequest): { bucket: string; key: string | undefined } {
  const path = req.path.replace(/^\//, '');
  const slash = path.indexOf('/');
  if (slash < 0) return { bucket: decodeURIComponent(path), key: undefined };
  const key = decodeURIComponent(path.slice(slash + 1));
  return { bucket: decodeURIComponent(path.slice(0, slash)), key: key === '' ? undefined : key };
}

function metadataOf(req: StubRequest): Record<string, string> {
  const metadata: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (name.startsWith('x-amz-meta-') && value !== undefined) metadata[name.slice(11)] = String(value);
  }
  return metadata;
}

const KEPT_HEADERS = [
  'x-amz-server-side-encryption',
  'x-amz-server-side-encryption-aws-kms-key-id',
  'x-amz-server-side-encryption-bucket-key-enabled',
  'cache-control',
  'content-disposition',
  'content-language',
];

function storedHeaders(req: StubRequest): Record<string, string> {
  const kept: Record<string, string> = {};
  for (const name of KEPT_HEADERS) {
    const value = header(req, name);
    if (value !== undefined) kept[name] = value;
  }
  const encoding = (header(req, 'content-encoding') ?? '')
    .split(',')
    .map((e) => e.trim())
    .filter((e) => e && e !== 'aws-chunked');
  if (encoding.length > 0) kept['content-encoding'] = encoding.join(',');
  return kept;
}

function checksumHeaders(checksum: S3Checksum): Record<string, string> {
  return { [`x-amz-checksum-${checksum.algorithm}`]: checksum.value, 'x-amz-checksum-type': checksum.type };
}
