// The SigV4 signer restore's workers use for their GETs: AWS's published example for a ranged
// GET of an S3 object, and the same signature as the SDK's own signer for our kind of request
// (a key needing percent-encoding, UNSIGNED-PAYLOAD, a session token).

import { createHash, createHmac } from 'node:crypto';
import { SignatureV4 } from '@smithy/signature-v4';
import { describe, expect, it } from 'vitest';
import { canonicalQuery, SigV4, s3UriPath } from '../../layers/storage/sigv4.ts';

const EXAMPLE = {
  accessKeyId: 'AKIAIOSFODNN7EXAMPLE',
  secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
};
const EMPTY_SHA = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

class Sha256 {
  private readonly h;
  constructor(secret?: unknown) {
    this.h = secret === undefined ? createHash('sha256') : createHmac('sha256', secret as Uint8Array);
  }
  update(d: Uint8Array | string) {
    this.h.update(d);
  }
  async digest() {
    return new Uint8Array(this.h.digest());
  }
}

describe('SigV4', () => {
  it("matches AWS's example: GET /test.txt with a Range header (S3 SigV4 documentation)", () => {
    const h = new SigV4(EXAMPLE, 'us-east-1').sign(
      'GET',
      'examplebucket.s3.amazonaws.com',
      '/test.txt',
      { range: 'bytes=0-9' },
      new Date('2013-05-24T00:00:00Z'),
      EMPTY_SHA,
    );
    expect(h.authorization).toBe(
      'AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41',
    );
  });

  it("signs as the SDK's signer does, with a session token and an encoded key", async () => {
    const creds = { ...EXAMPLE, sessionToken: 'token/with+chars=' };
    const when = new Date('2026-12-01T20:15:07Z');
    const key = '/bucket/7301/backups/20261201T201507.123Z/data/base/5/16384~3';
    const ours = new SigV4(creds, 'eu-west-1').sign('GET', '127.0.0.1:9000', s3UriPath(key), {}, when);
    const sdk = new SignatureV4({
      credentials: creds,
      region: 'eu-west-1',
      service: 's3',
      sha256: Sha256,
      uriEscapePath: false,
      applyChecksum: false,
    });
    const req = await sdk.sign(
      {
        method: 'GET',
        protocol: 'http:',
        hostname: '127.0.0.1',
        port: 9000,
        path: s3UriPath(key),
        headers: { host: '127.0.0.1:9000', 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' },
      },
      { signingDate: when },
    );
    expect(ours.authorization).toBe(req.headers.authorization);
    expect(ours['x-amz-security-token']).toBe(creds.sessionToken);
    expect(s3UriPath('/b/a~1/x y+z')).toBe('/b/a~1/x%20y%2Bz');
  });
  it("signs a listing's query and an upload's headers as the SDK's signer does", async () => {
    const creds = { ...EXAMPLE, sessionToken: 'tok' };
    const when = new Date('2026-12-03T19:10:00Z');
    const sdk = new SignatureV4({
      credentials: creds,
      region: 'us-east-1',
      service: 's3',
      sha256: Sha256,
      uriEscapePath: false,
      applyChecksum: false,
    });
    // A listing: names and values that need encoding, given out of order.
    const params = {
      prefix: '7301/backups/a b+c/',
      'list-type': '2',
      delimiter: '/',
      'continuation-token': '1/x+y=z~',
    };
    const q = canonicalQuery(params);
    expect(q).toBe(
      'continuation-token=1%2Fx%2By%3Dz~&delimiter=%2F&list-type=2&prefix=7301%2Fbackups%2Fa%20b%2Bc%2F',
    );
    const ours = new SigV4(creds, 'us-east-1').sign(
      'GET',
      '127.0.0.1:9000',
      '/bucket',
      {},
      when,
      undefined,
      q,
    );
    const req = await sdk.sign(
      {
        method: 'GET',
        protocol: 'http:',
        hostname: '127.0.0.1',
        port: 9000,
        path: '/bucket',
        query: params,
        headers: { host: '127.0.0.1:9000', 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' },
      },
      { signingDate: when },
    );
    expect(ours.authorization).toBe(req.headers.authorization);
    // An upload: its headers signed, and the body's SHA-256 as the payload hash.
    const body = Buffer.from('walmgr');
    const sha = createHash('sha256').update(body).digest('hex');
    const extra = {
      'content-length': String(body.length),
      'x-amz-checksum-crc32': 'AAAAAA==',
      'x-amz-meta-compression': 'zstd',
      'if-none-match': '*',
    };
    const put = new SigV4(creds, 'us-east-1').sign('PUT', '127.0.0.1:9000', '/bucket/k', extra, when, sha);
    const sdkPut = await sdk.sign(
      {
        method: 'PUT',
        protocol: 'http:',
        hostname: '127.0.0.1',
        port: 9000,
        path: '/bucket/k',
        headers: { ...extra, host: '127.0.0.1:9000', 'x-amz-content-sha256': sha },
        body,
      },
      { signingDate: when },
    );
    expect(put.authorization).toBe(sdkPut.headers.authorization);
    expect(put.authorization).toContain(
      'SignedHeaders=content-length;host;if-none-match;x-amz-checksum-crc32',
    );
  });
});
