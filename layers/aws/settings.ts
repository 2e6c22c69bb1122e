// Settings every database-backed Lambda or task shares, whatever the tool: where the database
// is (a Secrets Manager secret or a URL), host override, TLS mode, how long a secret is reused.
// Each tool's settings table starts with DATABASE_SETTINGS; loadSettings resolves a table from
// the environment once per container.
import { resolveSettings, type SettingSpec, type SettingValue } from '../config/settings.ts';

export const DATABASE_SETTINGS: readonly SettingSpec[] = [
  {
    key: 'database_secret_arn',
    env: 'DATABASE_SECRET_ARN',
    type: 'string',
    doc: 'Secrets Manager secret with the RDS JSON shape (host, port, dbname, username, password); fetched once per container',
  },
  {
    key: 'database_url',
    env: 'DATABASE_URL',
    type: 'string',
    doc: 'postgres:// URL, used when no secret is set (local runs)',
  },
  {
    key: 'database_host',
    env: 'DATABASE_HOST',
    type: 'string',
    doc: "overrides the secret's host, e.g. an RDS Proxy endpoint for consumers (never for the ticker)",
  },
  {
    key: 'database_ssl',
    env: 'DATABASE_SSL',
    type: 'string',
    doc: 'disable | require | verify-full; default verify-full with a secret (set NODE_EXTRA_CA_CERTS=/var/runtime/ca-cert.pem), else as the URL says',
  },
  {
    key: 'database_secret_ttl',
    env: 'DATABASE_SECRET_TTL',
    type: 'seconds',
    default: '300',
    min: 0,
    doc: 'how long a fetched secret is reused before it is read again (rotation); an auth failure re-reads at once',
  },
];

export type Settings = Record<string, SettingValue>;

export function loadSettings(
  specs: readonly SettingSpec[],
  env: NodeJS.ProcessEnv = process.env,
  where = 'environment',
): Settings {
  return resolveSettings(specs, { env }, where).values;
}
