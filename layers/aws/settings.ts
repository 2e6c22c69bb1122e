// Settings every database-backed Lambda or task shares, whatever the tool: where the database
// is (a Secrets Manager secret or a URL), host override, TLS mode, how long a secret is reused.
// Each tool's table spreads DATABASE_SETTINGS.specs into its own (defineSettings), and its
// container loads it from the environment once (loadSettings).
import { defineSettings, type SettingsOf, type SettingsSpec, setting } from '../config/settings.ts';

export const SSL_MODES = ['disable', 'require', 'verify-full'] as const;
export type SslMode = (typeof SSL_MODES)[number];

export const DATABASE_SETTINGS = defineSettings('database', {
  database_secret_arn: setting.string({
    env: 'DATABASE_SECRET_ARN',
    doc: 'Secrets Manager secret with the RDS JSON shape (host, port, dbname, username, password); fetched once per container',
  }),
  database_url: setting.string({
    env: 'DATABASE_URL',
    doc: 'postgres:// URL, used when no secret is set (local runs)',
  }),
  database_host: setting.string({
    env: 'DATABASE_HOST',
    doc: "overrides the secret's host, e.g. an RDS Proxy endpoint for consumers (never for the ticker)",
  }),
  database_ssl: setting.choice(SSL_MODES, {
    env: 'DATABASE_SSL',
    doc: 'TLS to the database; default verify-full with a secret (set NODE_EXTRA_CA_CERTS=/var/runtime/ca-cert.pem), else as the URL says',
  }),
  database_secret_ttl: setting.seconds({
    env: 'DATABASE_SECRET_TTL',
    default: 300,
    min: 0,
    doc: 'how long a fetched secret is reused before it is read again (rotation); an auth failure re-reads at once',
  }),
});

/** What a DatabaseSource needs; every tool's settings include these. */
export type DatabaseSettings = SettingsOf<typeof DATABASE_SETTINGS.specs>;

/** A settings table resolved from the environment (a Lambda's or task's only source), typed. */
// biome-ignore lint/suspicious/noExplicitAny: any table of settings, whatever its value types
export function loadSettings<S extends Record<string, any>>(
  spec: SettingsSpec<S>,
  env: NodeJS.ProcessEnv = process.env,
): SettingsOf<S> {
  return spec.load({ env }).values;
}
