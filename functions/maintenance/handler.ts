// Maintenance Lambda (scheduled): moves due retry events back and runs PgQ's maintenance steps.
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import { maintenanceDeps, observability, runMaintenanceInvocation } from '../../layers/lambda/index.ts';

export function createHandler(deps: () => Parameters<typeof runMaintenanceInvocation>[0] = maintenanceDeps) {
  return middy(async () => runMaintenanceInvocation(deps())).use(
    injectLambdaContext(observability('pgq-maintenance').logger),
  );
}

export const handler = createHandler();
