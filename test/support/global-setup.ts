// Starts one PostgreSQL server for the whole run and builds a template database with every
// module installed; each test file clones it (CREATE DATABASE … TEMPLATE), which takes
// milliseconds, instead of installing the schema again.
import pg from 'pg';
import type { TestProject } from 'vitest/node';
import { install } from '../../layers/install/installer.ts';
import { startPgServer, withDatabase } from './pg-server.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    pgAdminUrl: string;
    pgTemplateDb: string;
    pgBinDir: string | null;
  }
}

export default async function setup(project: TestProject) {
  const server = await startPgServer();
  const templateDb = `skytools_tpl_${process.pid}_${Date.now().toString(36)}`;
  const admin = new pg.Client({ connectionString: server.adminUrl });
  await admin.connect();
  await admin.query(`create database ${templateDb}`);
  const tpl = new pg.Client({ connectionString: withDatabase(server.adminUrl, templateDb) });
  await tpl.connect();
  try {
    await install(tpl);
  } finally {
    await tpl.end();
  }
  project.provide('pgAdminUrl', server.adminUrl);
  project.provide('pgTemplateDb', templateDb);
  project.provide('pgBinDir', server.binDir);

  return async () => {
    await admin.query(`drop database if exists ${templateDb} with (force)`).catch(() => {});
    await admin.end();
    await server.stop();
  };
}
