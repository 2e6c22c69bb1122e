// The custom resources' handler on an empty database: installs the schema from the generated
// module (no sql/ files at run time), registers a consumer, keeps it on Delete unless asked.
// Also checks that the generated module matches sql/ (the settings reference is checked by
// test/config/configuration-doc.unit.test.ts).
import type { CloudFormationCustomResourceEvent } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { DatabaseSource } from '../../layers/aws/database.ts';
import { loadSettings } from '../../layers/aws/settings.ts';
import { INSTALL_CHUNKS } from '../../layers/install/generated-sql.ts';
import { loadManifest } from '../../layers/install/manifest.ts';
import { handleAdminEvent, MAINTENANCE_SETTINGS } from '../../layers/pgq/lambda/index.ts';
import { useTestDatabase } from '../support/db.ts';

const db = useTestDatabase({ empty: true });

function cfn(
  type: 'Create' | 'Update' | 'Delete',
  props: Record<string, string>,
  physicalId = 'x',
): CloudFormationCustomResourceEvent {
  return {
    RequestType: type,
    ServiceToken: 'arn:aws:lambda:us-east-1:000000000000:function:provider',
    ResponseURL: 'https://example.invalid/',
    StackId: 'stack',
    RequestId: 'req',
    LogicalResourceId: 'Res',
    ResourceType: 'Custom::Pgq',
    ResourceProperties: { ServiceToken: 'arn', ...props },
    ...(type === 'Create' ? {} : { PhysicalResourceId: physicalId, OldResourceProperties: {} }),
  } as CloudFormationCustomResourceEvent;
}

describe('admin custom resources', () => {
  it('installs the schema from the bundled statements, twice without harm, and registers a consumer', async () => {
    const source = new DatabaseSource(loadSettings(MAINTENANCE_SETTINGS, { DATABASE_URL: db.url }));
    const first = await handleAdminEvent(cfn('Create', { Action: 'install' }), { db: source });
    expect(first.Data?.PgqVersion).toMatch(/^\d/);
    await db.query("select pgq.create_queue('adm_q')");
    await db.query("select pgq.insert_event('adm_q', 't', 'kept')");
    const again = await handleAdminEvent(cfn('Update', { Action: 'install' }, first.PhysicalResourceId), {
      db: source,
    });
    expect(again.PhysicalResourceId).toBe(first.PhysicalResourceId);

    const reg = await handleAdminEvent(
      cfn('Create', { Action: 'register-consumer', Queue: 'adm_q2', Consumer: 'fn' }),
      {
        db: source,
      },
    );
    expect(reg.PhysicalResourceId).toBe('adm_q2/fn');
    const consumers = async () =>
      (await db.query("select consumer_name from pgq.get_consumer_info('adm_q2')")).rows.map(
        (r) => r.consumer_name,
      );
    expect(await consumers()).toEqual(['fn']);
    await handleAdminEvent(
      cfn('Delete', { Action: 'register-consumer', Queue: 'adm_q2', Consumer: 'fn' }, 'adm_q2/fn'),
      {
        db: source,
      },
    );
    expect(await consumers()).toEqual(['fn']);
    await handleAdminEvent(
      cfn(
        'Delete',
        { Action: 'register-consumer', Queue: 'adm_q2', Consumer: 'fn', UnregisterOnDelete: 'true' },
        'adm_q2/fn',
      ),
      { db: source },
    );
    expect(await consumers()).toEqual([]);
    await expect(
      handleAdminEvent(cfn('Create', { Action: 'drop-everything' }), { db: source }),
    ).rejects.toThrow(/unknown custom resource Action/);
    await source.end();
  });

  it('the generated SQL module is current with sql/ (else: node scripts/build-sql-module.mjs)', () => {
    expect(INSTALL_CHUNKS).toEqual(loadManifest('install.sql'));
  });
});
