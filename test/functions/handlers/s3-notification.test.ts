import { parseObjectCreated } from '../../../functions/handlers/s3-notification';
import { objectCreatedEvent } from '../../support/ses/fixtures';

describe('Function: parseObjectCreated', () => {
  it('reads the bucket, key and size of an S3 "Object Created" event as EventBridge delivers it', () => {
    expect(parseObjectCreated(objectCreatedEvent('inbound-mail', 'ses/abc123', 2291))).toEqual({
      ok: true,
      object: { bucket: 'inbound-mail', key: 'ses/abc123', size: 2291 },
    });
  });

  it.each([
    ['a space written as +', 'ses/a+b%2Bc', 'ses/a b+c'],
    ['an encoded slash', 'in%2Fses%2Fid', 'in/ses/id'],
    ['a malformed escape, kept as given', 'ses/100%', 'ses/100%'],
  ])('decodes a URL-encoded key: %s', (_name, given, key) => {
    const parsed = parseObjectCreated(objectCreatedEvent('b', given, 1));
    expect(parsed).toEqual({ ok: true, object: { bucket: 'b', key, size: 1 } });
  });

  it.each([
    ['{', 'the message body is not JSON'],
    ['{"source":"aws.s3","detail-type":"Object Deleted","detail":{}}', 'event.detail-type'],
    ['{"source":"pop3-poller","detail-type":"Object Created","detail":{}}', 'event.source'],
    [
      '{"source":"aws.s3","detail-type":"Object Created","detail":{"bucket":{"name":"b"},"object":{"key":""}}}',
      'event.detail.object.key',
    ],
    [
      '{"source":"aws.s3","detail-type":"Object Created","detail":{"bucket":{"name":"b"},"object":{"key":"k","size":-1}}}',
      'event.detail.object.size',
    ],
  ])('refuses %s', (body, problem) => {
    const parsed = parseObjectCreated(body);
    expect(parsed.ok).toBe(false);
    expect(!parsed.ok && parsed.problem).toContain(problem);
  });
});
