// An admin built on the cascade admin, the way Londiste's setup is built on the original's: its
// commands extend setadm's table and run through the same CLI registration (registerAdminProgram),
// using the session helpers a subclass reaches (every member's node info, the root's tick, admin
// calls with the ret_code check, the wait for the root) and the extraInit / extraStatus hooks.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Command } from 'commander';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { registerAdminProgram } from '../../cli/commands/setadm.ts';
import { CascadeAdmin } from '../../layers/cascade/admin.ts';
import { commandsHelp, extendCommands } from '../../layers/cascade/admin-commands.ts';
import type { NodeStatus } from '../../layers/cascade/admin-status.ts';
import { CascadeError, getNodeInfo, type NodeInfo, type NodeType } from '../../layers/cascade/node.ts';
import { reportError } from '../../layers/errors/exit.ts';
import { Producer, useCluster } from './cluster.ts';

interface Inventory {
  local: string;
  /** The local node's provider and the root reached by walking the provider chain. */
  provider: string | null;
  chainRoot: string | null;
  root: string;
  rootTick: string;
  nodes: { name: string; type: string | null; provider: string | null; tick: string }[];
}

class InventoryAdmin extends CascadeAdmin {
  static override readonly commands = extendCommands<InventoryAdmin>(CascadeAdmin.commands, [
    {
      names: ['inventory'],
      group: 'Inventory',
      help: "inventory             every member's type, provider and tick; the root's queue tick (JSON)",
      run: async (admin, { out }) => out(JSON.stringify(await admin.inventory())),
    },
    {
      names: ['set-attr'],
      group: 'Inventory',
      help: 'set-attr KEY=VALUE    set a node attribute on every live member',
      run: (admin, { args }) => admin.setAttr(args[0] ?? ''),
    },
    {
      names: ['forget'],
      group: 'Inventory',
      help: 'forget NODE           unregister a location on this node',
      run: (admin, { args }) => admin.forget(args[0] ?? ''),
    },
    {
      names: ['wait-top'],
      group: 'Inventory',
      help: "wait-top              wait until this node has the root's last tick",
      run: async (admin, { out }) => out(`reached tick ${await admin.waitRoot()}`),
    },
    {
      // replaces the cascade's drop-node in place
      names: ['drop-node'],
      group: 'Cascade layout',
      help: 'drop-node NAME        refused: inventory nodes stay',
      run: async () => {
        throw new CascadeError('refused', 'inventory nodes are never dropped');
      },
    },
  ]);

  async inventory(): Promise<Inventory> {
    const s = this.session;
    await s.loadLocal();
    const root = await s.rootName();
    if (!root) throw new CascadeError('unknown_node', 'no root');
    const nodes: Inventory['nodes'] = [];
    for (const m of await s.queueLocations()) {
      const info = await s.nodeInfo(m.name);
      nodes.push({
        name: m.name,
        type: info.nodeType,
        provider: info.providerNode,
        tick: String(info.workerLastTick),
      });
    }
    const nameAt = async (db: pg.Client) => (await getNodeInfo(db, s.queue)).nodeName;
    return {
      local: s.localName,
      provider: await nameAt(await s.providerDb()),
      chainRoot: await nameAt(await s.rootDb()),
      root,
      rootTick: String(await s.lastTick(root)),
      nodes,
    };
  }

  async setAttr(kv: string): Promise<void> {
    const s = this.session;
    await s.loadLocal();
    for (const name of s.members.keys()) {
      if (s.alive(name))
        await s.nodeCmd(name, 'select * from pgq_node.set_node_attrs($1, $2)', [s.queue, kv]);
    }
  }

  async forget(node: string): Promise<void> {
    const s = this.session;
    await s.loadLocal();
    await s.cmd(await s.local(), 'select * from pgq_node.unregister_location($1, $2)', [s.queue, node]);
  }

  async waitRoot(): Promise<bigint> {
    await this.session.loadLocal();
    return this.session.waitForNode();
  }

  protected override async extraInit(type: NodeType, node: pg.Client, provider: pg.Client | null) {
    // inside the creating transaction: the node exists already, the provider is reachable
    const me = (await node.query('select node_name from pgq_node.get_node_info($1)', [this.queue])).rows[0];
    const prov = provider
      ? (await provider.query('select node_name from pgq_node.get_node_info($1)', [this.queue])).rows[0]
      : null;
    await node.query('insert into inventory_created values ($1, $2, $3)', [
      me.node_name,
      type,
      prov?.node_name ?? null,
    ]);
  }

  protected override async extraStatus(st: NodeStatus, _node: pg.Client, info: NodeInfo) {
    st.details = [`attrs: ${info.nodeAttrs ?? '-'}`];
  }
}

const f = useCluster(['A', 'B', 'L']);
const dir = mkdtempSync(path.join(os.tmpdir(), 'cascade-sub-'));

function ini(node: string): string {
  const file = path.join(dir, `${node}.ini`);
  writeFileSync(
    file,
    ['[setadm]', `job_name = w_${node}`, 'queue_name = cq', `db = ${f.c.loc(node)}`, ''].join('\n'),
  );
  return file;
}

/**
 * `skytools invadm <ini> …` in this process, through the same registration as setadm; a thrown
 * error goes to the CLI's one printer and exit policy, as cli/main.ts does it.
 */
async function run(
  node: string,
  ...args: string[]
): Promise<{ code: number; out: string; err: string; kind?: string }> {
  const program = new Command('skytools').exitOverride();
  registerAdminProgram(program, { name: 'invadm', description: 'inventory admin', admin: InventoryAdmin });
  let out = '';
  let err = '';
  const o = vi.spyOn(process.stdout, 'write').mockImplementation((s) => {
    out += String(s);
    return true;
  });
  const e = vi.spyOn(process.stderr, 'write').mockImplementation((s) => {
    err += String(s);
    return true;
  });
  try {
    process.exitCode = undefined;
    await program.parseAsync(['node', 'skytools', 'invadm', ini(node), ...args, '-q']);
    return { code: typeof process.exitCode === 'number' ? process.exitCode : 0, out, err };
  } catch (error) {
    const code = reportError(error, { command: 'invadm' }, { write: (s) => (err += s), env: {} });
    return { code, out, err, kind: (error as CascadeError).kind };
  } finally {
    o.mockRestore();
    e.mockRestore();
    process.exitCode = undefined;
  }
}

beforeAll(async () => {
  for (const db of f.dbs) {
    await db.query('create table inventory_created (node text, node_type text, provider text)');
  }
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('an admin subclass with its own commands', () => {
  it('creates the nodes through the extended table; extraInit runs in the creating transaction', async () => {
    const { c } = f;
    expect(await run('A', 'create-root', 'A')).toMatchObject({
      code: 0,
      out: 'node A created as root for queue cq\n',
    });
    await c.tune('A');
    expect((await run('B', 'create-branch', 'B', `--provider=${c.loc('A')}`)).code).toBe(0);
    await c.tune('B');
    expect((await run('L', 'create-leaf', 'L', `--provider=${c.loc('B')}`)).code).toBe(0);
    const created = await Promise.all(
      ['A', 'B', 'L'].map(async (n) => (await c.nodes[n]!.query('select * from inventory_created')).rows),
    );
    expect(created).toEqual([
      [{ node: 'A', node_type: 'root', provider: null }],
      [{ node: 'B', node_type: 'branch', provider: 'A' }],
      [{ node: 'L', node_type: 'leaf', provider: 'B' }],
    ]);
    c.startAll();
  });

  it("its command reads every member's node info and the root's tick", async () => {
    const { c } = f;
    await new Producer(c, 'A', 0).many(20);
    const waited = await run('L', 'wait-top');
    expect(waited.code).toBe(0);
    const reached = BigInt(/reached tick (\d+)/.exec(waited.out)![1]!);
    expect((await c.info('L')).workerLastTick! >= reached).toBe(true);

    const inv = await run('L', 'inventory');
    expect(inv.code).toBe(0);
    const got = JSON.parse(inv.out) as Inventory;
    expect([got.local, got.provider, got.chainRoot, got.root]).toEqual(['L', 'B', 'A', 'A']);
    expect(BigInt(got.rootTick) >= reached).toBe(true);
    expect(got.nodes.map((n) => [n.name, n.type, n.provider])).toEqual([
      ['A', 'root', 'A'],
      ['B', 'branch', 'A'],
      ['L', 'leaf', 'B'],
    ]);
    for (const n of got.nodes.filter((x) => x.type !== 'root')) {
      expect(BigInt(n.tick) >= reached, `${n.name} at ${n.tick}`).toBe(true);
    }
  });

  it('runs admin calls on every member; status shows the extraStatus lines; inherited commands work', async () => {
    expect((await run('L', 'set-attr', 'team=blue')).code).toBe(0);
    const st = await run('L', 'status');
    expect(st.code).toBe(0);
    expect(st.out).toMatch(/^Queue: cq {3}Local node: L/);
    expect(st.out.match(/^ *attrs: team=blue$/gm)).toHaveLength(3);
    const js = JSON.parse((await run('B', 'status', '--json')).out);
    expect(js.roots[0].details).toEqual(['attrs: team=blue']);
    const members = JSON.parse((await run('B', 'members', '--json')).out);
    expect(members.map((m: { name: string }) => m.name)).toEqual(['A', 'B', 'L']);
    expect((await run('L', 'pause')).code).toBe(0);
    expect((await f.c.info('L')).paused).toBe(true);
    expect((await run('L', 'resume')).code).toBe(0);
    expect((await f.c.info('L')).paused).toBe(false);
  });

  it('a failed admin call, a replaced and an unknown command end with the admin exit code and message', async () => {
    const own = await run('A', 'forget', 'A');
    expect([own.code, own.kind]).toEqual([1, 'refused']);
    expect(own.err).toBe(
      "skytools invadm: pgq_node.unregister_location($1, $2) [cq, A]: 403 Cannot drop node's own location\n",
    );
    const drop = await run('B', 'drop-node', 'L');
    expect(drop).toMatchObject({
      code: 1,
      kind: 'refused',
      err: 'skytools invadm: inventory nodes are never dropped\n',
    });
    expect((await f.c.info('L')).nodeType).toBe('leaf');
    const bad = await run('A', 'no-such');
    expect(bad).toMatchObject({
      code: 1,
      kind: 'usage',
      err: 'skytools invadm: unknown command "no-such"; see skytools invadm --help\n',
    });
  });

  it('lists its commands in the help after the cascade ones, the replaced one in place', () => {
    const help = commandsHelp(InventoryAdmin.commands);
    expect(help).toBe(
      commandsHelp(CascadeAdmin.commands).replace(
        /drop-node NAME\n/,
        'drop-node NAME        refused: inventory nodes stay\n',
      ) +
        [
          'Inventory:',
          ...InventoryAdmin.commands.filter((c) => c.group === 'Inventory').map((c) => `  ${c.help}`),
          '',
        ].join('\n'),
    );
    expect(help).toMatch(/^Node initialization:\n {2}create-root/m);
  });
});
