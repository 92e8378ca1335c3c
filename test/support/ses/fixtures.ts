import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Objects as SES's receipt-rule S3 action writes them: SES's trace and verdict fields (Return-Path,
 * its Received field `by inbound-smtp.<region>.amazonaws.com … for <recipient>`, X-SES-Spam-Verdict,
 * X-SES-Virus-Verdict, Received-SPF, Authentication-Results, X-SES-RECEIPT, X-SES-DKIM-SIGNATURE)
 * prepended to the message as received. The files are kept byte for byte (.gitattributes: binary);
 * the receipt and signature values are made up, the shapes are SES's.
 *
 * - single-recipient.eml: one envelope recipient, named in SES's Received field; multipart with a
 *   PDF attachment and an RFC 2047 subject.
 * - multi-recipient.eml: one delivery to two of your recipients (SES names none) and a foreign Cc.
 * - eight-bit.eml: 8-bit ISO-8859-1 body with a NUL, a `..` line and no final CRLF; recipient with a
 *   `+detail`.
 * - invalid.eml: an object that is not a message (no header section).
 * - AMAZON_SES_SETUP_NOTIFICATION: what SES writes when a rule's S3 action is saved.
 */

export const SES_FIXTURES = {
  singleRecipient: 'single-recipient.eml',
  multiRecipient: 'multi-recipient.eml',
  eightBit: 'eight-bit.eml',
  invalid: 'invalid.eml',
  setupNotification: 'AMAZON_SES_SETUP_NOTIFICATION',
} as const;

export type SesFixture = keyof typeof SES_FIXTURES;

export function sesObject(name: SesFixture): Buffer {
  return readFileSync(join(__dirname, SES_FIXTURES[name]));
}

/** The SMTP id in SES's Received field, which is also the object's key under the action's prefix. */
export const SES_MESSAGE_IDS: Readonly<Record<Exclude<SesFixture, 'setupNotification'>, string>> = {
  singleRecipient: 'l5ms3b0ioe1v6t2k8c3fb0qh2nd4eq7r0a2ov8g1',
  multiRecipient: 'q2c81ov3l9t0mg3h7dn8i5tk3j02f1lqv6bn9p81',
  eightBit: '9e1c4mv0t2l7kq8s3ab6d5fj0np4r1o7h2gu3c5e',
  invalid: 'x7invalidobject00000000000000000000000000',
};

/** The S3 "Object Created" event EventBridge hands the rule's SQS target, as its message body. */
export function objectCreatedEvent(bucket: string, key: string, size: number): string {
  return JSON.stringify({
    version: '0',
    id: '17793124-05d4-b198-2fde-7ededc63b103',
    'detail-type': 'Object Created',
    source: 'aws.s3',
    account: '111122223333',
    time: '2026-12-07T12:58:42Z',
    region: 'eu-west-1',
    resources: [`arn:aws:s3:::${bucket}`],
    detail: {
      version: '0',
      bucket: { name: bucket },
      object: { key, size, etag: 'b1946ac92492d2347c6235b4d2611184', sequencer: '00617F08299329D189' },
      'request-id': 'N4N7GDK58NMKJ12R',
      requester: '111122223333',
      'source-ip-address': '203.0.113.15',
      reason: 'PutObject',
    },
  });
}
