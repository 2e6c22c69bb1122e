// The LondisteNode construct's custom resource (CDK Provider framework onEvent): the properties
// of the event → a NodeSpec (node-setup.ts), applied on Create and Update, its tables removed on
// Delete only when RemoveTablesOnDelete. The node's database is reached through its secret
// (DB_SECRET_ARN), the provider through its location and LONDISTE_PROVIDER_SECRET_ARN, as the
// worker reaches them (task-connect.ts).
import type { CloudFormationCustomResourceEvent } from 'aws-lambda';
import type { NodeType } from '../cascade/node.ts';
import { type Logger, silentLogger } from '../util/log.ts';
import { LondisteAdmin } from './admin.ts';
import { LondisteError } from './errors.ts';
import { applyNodeSpec, deleteNodeSpec, type NodeSpec, type TableSpec } from './node-setup.ts';
import type { NodeConnections } from './task-connect.ts';

export interface NodeResourceResponse {
  PhysicalResourceId: string;
  Data?: Record<string, string>;
}

type Props = Record<string, unknown>;

export async function handleNodeEvent(
  event: CloudFormationCustomResourceEvent,
  deps: { connections: NodeConnections; log?: Logger },
): Promise<NodeResourceResponse> {
  const log = deps.log ?? silentLogger;
  const location = await deps.connections.publicLocation();
  let spec: NodeSpec;
  try {
    spec = nodeSpec(event.ResourceProperties, location);
  } catch (err) {
    // A Delete must not fail on properties a refused Create never applied.
    if (event.RequestType === 'Delete') return { PhysicalResourceId: event.PhysicalResourceId };
    throw err;
  }
  const id = `${spec.queue}/${spec.node}`;
  const admin = new LondisteAdmin({
    queue: spec.queue,
    localLocation: location,
    log,
    connect: (loc) =>
      loc === location
        ? deps.connections.connectLocal('skytools londiste-node')
        : deps.connections.connectRemote(loc, 'skytools londiste-node'),
  });
  try {
    if (event.RequestType === 'Delete') {
      const res = await deleteNodeSpec(admin, spec);
      log.info('node resource deleted', { queue: spec.queue, node: spec.node, removed: res.removed });
      return { PhysicalResourceId: event.PhysicalResourceId };
    }
    const previous =
      event.RequestType === 'Update' ? safeSpec(event.OldResourceProperties, location) : undefined;
    const providerLocation = spec.providerLocation;
    const res = await applyNodeSpec(admin, spec, previous, {
      ...(providerLocation
        ? {
            connectProvider: () => deps.connections.connectRemote(providerLocation, 'skytools londiste-node'),
          }
        : {}),
    });
    log.info('node applied', { queue: spec.queue, node: spec.node, added: res.added, removed: res.removed });
    return {
      PhysicalResourceId: id,
      Data: { Queue: spec.queue, Node: spec.node, Worker: spec.worker, Location: location },
    };
  } finally {
    await admin.close();
  }
}

/** The resource's properties (CloudFormation passes scalars as strings, lists possibly as JSON text). */
export function nodeSpec(p: Props, location: string): NodeSpec {
  const str = (k: string) => (p[k] == null || p[k] === '' ? undefined : String(p[k]));
  const queue = str('Queue');
  const node = str('Node');
  if (!queue || !node) throw new LondisteError('usage', 'the node resource needs Queue and Node');
  return {
    queue,
    node,
    nodeType: (str('NodeType') ?? '') as NodeType,
    worker: str('Worker') ?? node,
    location,
    providerLocation: str('ProviderLocation'),
    tables: list(p.Tables, 'Tables').map((t) => (typeof t === 'string' ? { name: t } : (t as TableSpec))),
    sequences: list(p.Sequences, 'Sequences').map(String),
    removeTablesOnDelete: /^(true|1|yes)$/i.test(str('RemoveTablesOnDelete') ?? ''),
    tableOwner: str('TableOwner'),
  };
}

function safeSpec(p: Props | undefined, location: string): NodeSpec | undefined {
  try {
    return p ? nodeSpec(p, location) : undefined;
  } catch {
    return undefined;
  }
}

function list(v: unknown, name: string): unknown[] {
  if (v == null || v === '') return [];
  const parsed = typeof v === 'string' ? safeJson(v, name) : v;
  if (!Array.isArray(parsed)) throw new LondisteError('usage', `${name} must be a list`);
  return parsed;
}

function safeJson(text: string, name: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new LondisteError('usage', `${name} is not a JSON list: ${text.slice(0, 80)}`);
  }
}
