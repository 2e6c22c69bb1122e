// Opens a storage from a repository URL: `s3://bucket/prefix` or a local directory path
// (`/path`, `./path` or `file:///path`). The S3 backend (and the AWS SDK) loads only here.
import { LocalStorage } from './local.ts';
import type { S3StorageOptions } from './s3.ts';
import { type Storage, StorageError } from './types.ts';

export type { ObjectInfo, PutOptions, PutResult, Storage } from './types.ts';
export { LocalStorage, StorageError };

export type OpenOptions = Omit<S3StorageOptions, 'bucket' | 'prefix'>;

export async function openStorage(repo: string, opts: OpenOptions = {}): Promise<Storage> {
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
    const { S3Storage } = await import('./s3.ts');
    return new S3Storage({ ...opts, bucket, prefix });
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(repo) && !repo.startsWith('file://')) {
    throw new StorageError(
      'invalid_repository',
      `unsupported repository ${repo}: use s3://bucket/prefix or a local directory`,
    );
  }
  return new LocalStorage(repo.startsWith('file://') ? new URL(repo).pathname : repo);
}
