// Custom resource handler (CDK Provider framework onEvent) of the LondisteNode construct: creates
// the Londiste node and keeps its tables and sequences as declared (layers/londiste/node-setup.ts).
// Logs in with the node's secret (DB_SECRET_ARN) and the provider's (LONDISTE_PROVIDER_SECRET_ARN).
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import type { CloudFormationCustomResourceEvent } from 'aws-lambda';
import { observability, once } from '../../layers/aws/container.ts';
import { asLogger } from '../../layers/aws/observability.ts';
import { loadSettings } from '../../layers/aws/settings.ts';
import { handleNodeEvent } from '../../layers/londiste/node-resource.ts';
import { LONDISTE_TASK_SETTINGS } from '../../layers/londiste/settings.ts';
import { taskConnections } from '../../layers/londiste/task-connect.ts';

const obs = () => observability('londiste-node');
const connections = () => once('londiste-node', () => taskConnections(loadSettings(LONDISTE_TASK_SETTINGS)));

export const handler = middy(async (event: CloudFormationCustomResourceEvent) =>
  handleNodeEvent(event, { connections: connections(), log: asLogger(obs().logger) }),
).use(injectLambdaContext(obs().logger));
