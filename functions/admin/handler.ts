// Custom resource handler (CDK Provider framework onEvent): schema install and consumer
// registration. Uses the database credentials of the stack's secret.
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import type { CloudFormationCustomResourceEvent } from 'aws-lambda';
import { observability } from '../../layers/aws/container.ts';
import { handleAdminEvent, maintenanceDeps } from '../../layers/pgq/lambda/index.ts';

export const handler = middy(async (event: CloudFormationCustomResourceEvent) =>
  handleAdminEvent(event, maintenanceDeps()),
).use(injectLambdaContext(observability('pgq-admin').logger));
