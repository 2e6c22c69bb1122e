// Backup → writes → restore (full, time, LSN, xid, standby) with the repository in S3 over HTTP.
import { type S3Endpoint, startS3 } from './harness.ts';
import { scenario } from './scenario.ts';

scenario(
  'walmgr on S3',
  async () => {
    const s3: S3Endpoint = await startS3('walmgr-e2e');
    return {
      repoArgs: [
        '--repo',
        `s3://${s3.bucket}/e2e`,
        '--endpoint',
        s3.endpoint,
        '--s3-conditional-put',
        process.env.AWS_ENDPOINT_URL ? 'on' : 'off',
      ],
      done: () => s3.stop(),
    };
  },
  { more: true },
);
