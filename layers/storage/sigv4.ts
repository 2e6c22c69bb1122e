// AWS Signature Version 4 for the SDK-free S3 requests (direct-read.ts, s3-http.ts; header form).
// Ours rather than @smithy/signature-v4 (which the SDK ships): restore's worker threads sign one
// GET per object, and the few lines below need no SDK module loaded in each worker. Checked
// against AWS's published example and against the SDK's signer (test/walmgr/sigv4.unit.test.ts).
import { createHash, createHmac } from 'node:crypto';

export interface Credentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

/** RFC 3986 percent-encoding: everything but the unreserved characters, as SigV4 wants it. */
const uriEncode = (s: string) =>
  encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

/** S3's canonical URI: each path segment percent-encoded once (RFC 3986 unreserved kept). */
export function s3UriPath(path: string): string {
  return path.split('/').map(uriEncode).join('/');
}

/**
 * A query string in SigV4's canonical form, which is also what the request sends: names and
 * values percent-encoded (RFC 3986), sorted by name.
 */
export function canonicalQuery(params: Record<string, string>): string {
  return Object.entries(params)
    .map(([k, v]) => [uriEncode(k), uriEncode(v)] as const)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`)
    .join('&');
}

const hmac = (key: Buffer | string, data: string) => createHmac('sha256', key).update(data).digest();

/** The signing key changes once a day per region; worth keeping across thousands of GETs. */
export class SigV4 {
  private day = '';
  private key: Buffer = Buffer.alloc(0);
  private creds: Credentials;
  private readonly region: string;
  private readonly service: string;

  constructor(creds: Credentials, region: string, service = 's3') {
    this.creds = creds;
    this.region = region;
    this.service = service;
  }

  setCredentials(creds: Credentials): void {
    this.creds = creds;
    this.day = '';
  }

  /**
   * Headers to send for `method host path` (path already encoded with s3UriPath; `query` in
   * the form canonicalQuery gives, '' for none), with `extra` (lower-case names, e.g. range)
   * signed too.
   */
  sign(
    method: string,
    host: string,
    path: string,
    extra: Record<string, string> = {},
    now: Date = new Date(),
    payloadHash = 'UNSIGNED-PAYLOAD',
    query = '',
  ): Record<string, string> {
    const amzDate = now
      .toISOString()
      .replace(/[-:]/g, '')
      .replace(/\.\d{3}/, '');
    const day = amzDate.slice(0, 8);
    const headers: Record<string, string> = {
      ...extra,
      host,
      'x-amz-content-sha256': payloadHash,
      'x-amz-date': amzDate,
      ...(this.creds.sessionToken ? { 'x-amz-security-token': this.creds.sessionToken } : {}),
    };
    const names = Object.keys(headers).sort();
    const canonical = [
      method,
      path,
      query,
      ...names.map((n) => `${n}:${headers[n]!.trim().replace(/\s+/g, ' ')}`),
      '',
      names.join(';'),
      payloadHash,
    ].join('\n');
    const scope = `${day}/${this.region}/${this.service}/aws4_request`;
    const toSign = [
      'AWS4-HMAC-SHA256',
      amzDate,
      scope,
      createHash('sha256').update(canonical).digest('hex'),
    ].join('\n');
    if (this.day !== day) {
      this.day = day;
      this.key = hmac(
        hmac(hmac(hmac(`AWS4${this.creds.secretAccessKey}`, day), this.region), this.service),
        'aws4_request',
      );
    }
    const signature = createHmac('sha256', this.key).update(toSign).digest('hex');
    headers.authorization = `AWS4-HMAC-SHA256 Credential=${this.creds.accessKeyId}/${scope}, SignedHeaders=${names.join(';')}, Signature=${signature}`;
    return headers;
  }
}
