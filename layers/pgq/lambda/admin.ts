// CloudFormation custom resources (behind the CDK Provider framework): install or upgrade the
// SQL schema from the bundled statements, and create a queue / register a consumer. Installing
// is idempotent (re-running is an upgrade or a no-op), so Create and Update do the same; Delete
// never drops the schema, and unregisters a consumer only when asked to (its position and
// pending events would be lost).
import type { CloudFormationCustomResourceEvent } from 'aws-lambda';
import type { DatabaseSource } from '../../aws/database.ts';
import { ConfigError } from '../../config/settings.ts';
import { INSTALL_CHUNKS } from '../../install/generated-sql.ts';
import { install } from '../../install/installer.ts';
import { type Logger, silentLogger } from '../../util/log.ts';
import { registerConsumer, unregisterConsumer } from '../consumer.ts';

export interface AdminResponse {
  PhysicalResourceId: string;
  Data?: Record<string, string>;
}

export async function handleAdminEvent(
  event: CloudFormationCustomResourceEvent,
  deps: { db: DatabaseSource; log?: Logger },
): Promise<AdminResponse> {
  const log = deps.log ?? silentLogger;
  const props = event.ResourceProperties as Record<string, string | undefined>;
  const action = props.Action;
  if (action === 'install') {
    if (event.RequestType === 'Delete') return { PhysicalResourceId: event.PhysicalResourceId };
    const client = await deps.db.connect('skytools-install');
    try {
      const res = await install(client, { chunks: INSTALL_CHUNKS });
      log.info('schema installed', { statements: res.statements, pgqVersion: res.pgqVersion });
      return { PhysicalResourceId: 'skytools-schema', Data: { PgqVersion: res.pgqVersion ?? '' } };
    } finally {
      await client.end().catch(() => {});
    }
  }
  if (action === 'register-consumer') {
    const queue = props.Queue;
    const consumer = props.Consumer;
    if (!queue || !consumer) throw new ConfigError('register-consumer needs Queue and Consumer properties');
    const id = `${queue}/${consumer}`;
    const client = await deps.db.connect('skytools-admin');
    try {
      if (event.RequestType === 'Delete') {
        if (props.UnregisterOnDelete === 'true') {
          await unregisterConsumer(client, queue, consumer);
          log.info('consumer unregistered', { queue, consumer });
        }
        return { PhysicalResourceId: event.PhysicalResourceId };
      }
      if (props.CreateQueue !== 'false') await client.query('select pgq.create_queue($1)', [queue]);
      const fresh = await registerConsumer(client, queue, consumer);
      log.info(fresh ? 'consumer registered' : 'consumer was registered already', { queue, consumer });
      return { PhysicalResourceId: id };
    } finally {
      await client.end().catch(() => {});
    }
  }
  throw new ConfigError(
    `unknown custom resource Action ${JSON.stringify(action)}: expected install or register-consumer`,
  );
}
