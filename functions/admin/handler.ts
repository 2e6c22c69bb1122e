// Custom resource handler (CDK Provider framework onEvent): schema install, consumer
// registration and the functions' login roles. The one function that logs in with the
// database's master secret (and reads and completes the role secrets).
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import type { CloudFormationCustomResourceEvent } from 'aws-lambda';
import { observability } from '../../layers/aws/container.ts';
import { adminDeps, handleAdminEvent } from '../../layers/pgq/lambda/index.ts';

export const handler = middy(async (event: CloudFormationCustomResourceEvent) =>
  handleAdminEvent(event, adminDeps()),
).use(injectLambdaContext(observability('pgq-admin').logger));
