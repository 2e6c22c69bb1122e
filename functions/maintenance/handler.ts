// Maintenance Lambda (scheduled): moves due retry events back and runs PgQ's maintenance steps.
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import { observability } from '../../layers/aws/container.ts';
import { maintenanceDeps, runMaintenanceInvocation } from '../../layers/pgq/lambda/index.ts';

export function createHandler(deps: () => Parameters<typeof runMaintenanceInvocation>[0] = maintenanceDeps) {
  return middy(async () => runMaintenanceInvocation(deps())).use(
    injectLambdaContext(observability('pgq-maintenance').logger),
  );
}

export const handler = createHandler();
