// Secrets Manager behind two calls: what a custom resource needs to read a secret and complete it
// (e.g. write a database role's connection fields beside its generated password). A small
// interface so that tests can hold secrets in memory: Secrets Manager cannot run here.
import {
  GetSecretValueCommand,
  PutSecretValueCommand,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';

export interface SecretStore {
  /** The secret's current string value. */
  get(secretId: string): Promise<string>;
  /** Stores a new current value. */
  put(secretId: string, value: string): Promise<void>;
}

export function secretsManagerStore(
  client: SecretsManagerClient = new SecretsManagerClient({}),
): SecretStore {
  return {
    async get(secretId) {
      const out = await client.send(new GetSecretValueCommand({ SecretId: secretId }));
      if (out.SecretString == null) throw new Error(`secret ${secretId} has no string value`);
      return out.SecretString;
    },
    async put(secretId, value) {
      await client.send(new PutSecretValueCommand({ SecretId: secretId, SecretString: value }));
    },
  };
}
