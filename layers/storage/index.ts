// Opens a storage from a repository URL: `s3://bucket/prefix` or a local directory path
// (`/path`, `./path` or `file:///path`). The S3 backends (and the AWS SDK) load only here.
import { LocalStorage } from './local.ts';
import type { S3StorageOptions } from './s3.ts';
import type { ObjectGetter } from './s3-get.ts';
import { type Storage, StorageError } from './types.ts';

export type { ObjectGetter } from './s3-get.ts';
export type { ObjectInfo, PutOptions, PutResult, Storage } from './types.ts';
export { LocalStorage, StorageError };

export type OpenOptions = Omit<S3StorageOptions, 'bucket' | 'prefix'>;

type Location = { kind: 's3'; bucket: string; prefix: string } | { kind: 'local'; root: string };

function locate(repo: string): Location {
  if (repo.startsWith('s3://')) {
    const rest = repo.slice('s3://'.length);
    const slash = rest.indexOf('/');
    const bucket = slash < 0 ? rest : rest.slice(0, slash);
    const prefix = slash < 0 ? '' : rest.slice(slash + 1).replace(/^\/+|\/+$/g, '');
    if (!bucket)
      throw new StorageError(
        'invalid_repository',
        `repository ${repo} names no bucket: use s3://bucket/prefix`,
      );
    return { kind: 's3', bucket, prefix };
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(repo) && !repo.startsWith('file://')) {
    throw new StorageError(
      'invalid_repository',
      `unsupported repository ${repo}: use s3://bucket/prefix or a local directory`,
    );
  }
  return { kind: 'local', root: repo.startsWith('file://') ? new URL(repo).pathname : repo };
}

/**
 * The storage of a repository. On S3 with the credentials in the environment, requests go
 * without the AWS SDK (`s3-direct.ts`, which still hands streams and multipart uploads to the
 * SDK backend); with credentials from a profile, SSO or a role, through the SDK (`s3.ts`).
 */
export async function openStorage(repo: string, opts: OpenOptions = {}): Promise<Storage> {
  const at = locate(repo);
  if (at.kind === 'local') return new LocalStorage(at.root);
  const s3 = { ...opts, bucket: at.bucket, prefix: at.prefix };
  const { envCredentials, s3ReaderSpec } = await import('./s3-get.ts');
  const creds = envCredentials();
  if (creds) {
    const { DirectS3Storage } = await import('./s3-direct.ts');
    return new DirectS3Storage(s3ReaderSpec(s3, creds), s3);
  }
  const { S3Storage } = await import('./s3.ts');
  return new S3Storage(s3);
}

/**
 * Whole-object reads only, for short-lived processes (restore-wal): on S3 with credentials in
 * the environment, GETs without the AWS SDK (`s3-get.ts`), with the same endpoint, region,
 * addressing and bounds the SDK client of `openStorage` would use; otherwise (credentials from a
 * profile, SSO or a role) that SDK client. A local directory is read as `openStorage` does.
 */
export async function openGetter(repo: string, opts: OpenOptions = {}, parallel = 4): Promise<ObjectGetter> {
  const at = locate(repo);
  if (at.kind === 'local') return new LocalStorage(at.root);
  const { envCredentials, openS3Getter, s3ReaderSpec } = await import('./s3-get.ts');
  const creds = envCredentials();
  if (creds)
    return openS3Getter(s3ReaderSpec({ ...opts, bucket: at.bucket, prefix: at.prefix }, creds), parallel);
  return openStorage(repo, opts);
}
