// The README's CDK block and its handler block, run as a user would: the stack snippet pasted
// into a small Stack (a VPC and an RDS instance named `instance`), the handler saved as
// functions/mailer/handler.ts, both type-checked with the repository's tsconfig and then
// synthesized with the esbuild bundling `cdk synth` does (offline, no Docker). The files are
// temporary, inside the repository so that the snippets' relative imports resolve.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { expect } from 'vitest';
import { createDatabase } from '../support/db.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');
const HANDLER = 'functions/mailer/handler.ts';

/** The stack file: the snippet's imports at the top, its body in the constructor. */
function stackSource(snippet: string): string {
  const lines = snippet.split('\n');
  const imports = lines.filter((l) => l.startsWith('import '));
  const body = lines.filter((l) => !l.startsWith('import '));
  return [
    "import { Stack } from 'aws-cdk-lib';",
    "import * as ec2 from 'aws-cdk-lib/aws-ec2';",
    "import * as rds from 'aws-cdk-lib/aws-rds';",
    "import type { Construct } from 'constructs';",
    ...imports,
    '',
    'export class ReadmeStack extends Stack {',
    '  constructor(scope: Construct, id: string) {',
    "    super(scope, id, { env: { account: '111111111111', region: 'eu-west-1' } });",
    "    const vpc = new ec2.Vpc(this, 'Vpc');",
    "    const instance = new rds.DatabaseInstance(this, 'Instance', {",
    '      engine: rds.DatabaseInstanceEngine.postgres({ version: rds.PostgresEngineVersion.VER_17 }),',
    '      vpc,',
    '      storageEncrypted: true,',
    '    });',
    ...body.map((l) => `    ${l}`),
    '  }',
    '}',
    '',
  ].join('\n');
}

/** Loads the handler as Lambda would (a local database instead of the secret) and invokes it. */
async function invokeMailer(file: string, pgqEnv: Record<string, string>): Promise<void> {
  const db = await createDatabase();
  const saved = { ...process.env };
  try {
    await db.query("select pgq.create_queue('orders')");
    await db.query("select pgq.register_consumer('orders', 'mailer')");
    await db.query("select pgq.insert_event('orders', 'created', '{\"id\": 42}')");
    await db.query("select pgq.force_tick('orders')");
    await db.query("select pgq.ticker('orders')");
    const lastTick = () => db.one("select last_tick_id::int as id from pgq.get_queue_info('orders')");
    const position = () =>
      db.one("select last_tick::int as tick from pgq.get_consumer_info('orders', 'mailer')");
    expect((await position()).tick).toBeLessThan((await lastTick()).id); // a batch is waiting
    Object.assign(process.env, pgqEnv, {
      DATABASE_URL: db.url,
      POWERTOOLS_METRICS_DISABLED: 'true',
      POWERTOOLS_LOG_LEVEL: 'WARN',
    });
    const { handler } = await import(file);
    const { consumerDeps } = await import('../../layers/pgq/lambda/index.ts');
    try {
      const wakeup = { queue: 'orders', consumer: 'mailer', type: 'pgq.wakeup' };
      const event = { Records: [{ messageId: 'm1', body: JSON.stringify(wakeup), attributes: {} }] };
      const context = { awsRequestId: 'r1', functionName: 'mailer', getRemainingTimeInMillis: () => 30_000 };
      expect(await handler(event, context)).toEqual({ batchItemFailures: [] });
    } finally {
      await consumerDeps().db.end();
    }
    expect((await position()).tick).toBe((await lastTick()).id); // … and was finished
  } finally {
    process.env = saved;
    await db.drop();
  }
}

/**
 * What runCdkBlocks wrote into the repository and has not removed yet. Its own `finally` removes
 * them, but a test that times out is abandoned before that runs: the test file's afterAll calls
 * removeCdkBlockFiles, so no functions/mailer/ or .readme-* file outlives the run.
 */
const written = new Set<string>();

export function removeCdkBlockFiles(): void {
  for (const p of written) rmSync(p, { recursive: true, force: true });
  written.clear();
}

export async function runCdkBlocks(stackSnippet: string, handlerSnippet: string): Promise<void> {
  const tag = `${process.pid}-${Date.now().toString(36)}`;
  const stackFile = path.join(ROOT, `.readme-stack-${tag}.ts`);
  const tsconfig = path.join(ROOT, `.readme-tsconfig-${tag}.json`);
  const handlerDir = path.join(ROOT, path.dirname(HANDLER));
  expect(existsSync(handlerDir), `${handlerDir} exists: the README's example would overwrite it`).toBe(false);
  for (const p of [handlerDir, stackFile, tsconfig]) written.add(p);
  try {
    mkdirSync(handlerDir, { recursive: true });
    writeFileSync(path.join(ROOT, HANDLER), `${handlerSnippet}\n`);
    writeFileSync(stackFile, stackSource(stackSnippet));
    writeFileSync(
      tsconfig,
      JSON.stringify({ extends: './tsconfig.json', include: [], files: [stackFile, HANDLER] }),
    );
    const tsc = spawnSync(
      process.execPath,
      [path.join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', tsconfig],
      {
        cwd: ROOT,
        encoding: 'utf8',
      },
    );
    expect(tsc.status, `tsc:\n${tsc.stdout}${tsc.stderr}`).toBe(0);

    const { App } = await import('aws-cdk-lib');
    const { Template } = await import('aws-cdk-lib/assertions');
    const { ReadmeStack } = await import(stackFile);
    const app = new App(); // bundles every handler with esbuild, as `cdk synth` does
    const stack = new ReadmeStack(app, 'Readme');
    const assembly = app.synth();
    const t = Template.fromStack(stack);
    const fns = Object.values(t.findResources('AWS::Lambda::Function'));
    const described = (d: RegExp) => fns.find((f) => d.test(f.Properties.Description ?? ''));
    for (const d of [/PgQ ticker/, /retry and maintenance/, /consumer mailer of orders/]) {
      expect(described(d), `a function described ${d}`).toBeDefined();
    }
    t.hasResourceProperties('AWS::Scheduler::Schedule', { ScheduleExpression: 'rate(1 minute)' });
    t.hasResourceProperties('AWS::Scheduler::Schedule', { ScheduleExpression: 'rate(5 minutes)' });
    t.hasResourceProperties('Custom::PgqConsumer', { Queue: 'orders', Consumer: 'mailer' });
    t.resourceCountIs('Custom::PgqSchema', 1);
    t.hasResourceProperties('AWS::SQS::Queue', { FifoQueue: true });
    const bundles = readdirSync(assembly.directory).filter((d) =>
      existsSync(path.join(assembly.directory, d, 'index.mjs')),
    );
    expect(bundles.length).toBeGreaterThanOrEqual(4);
    rmSync(assembly.directory, { recursive: true, force: true });

    // The mailer, with the PgQ settings its function got, drains a batch on a wake-up.
    const vars = described(/consumer mailer of orders/)!.Properties.Environment.Variables;
    await invokeMailer(path.join(ROOT, HANDLER), {
      PGQ_QUEUE: vars.PGQ_QUEUE,
      PGQ_CONSUMER: vars.PGQ_CONSUMER,
      PGQ_MIN_REMAINING: vars.PGQ_MIN_REMAINING,
    });
  } finally {
    for (const p of [handlerDir, stackFile, tsconfig]) {
      rmSync(p, { recursive: true, force: true });
      written.delete(p);
    }
  }
}
