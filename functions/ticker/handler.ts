// Ticker Lambda, invoked by an EventBridge schedule every minute: the pgqd loop until shortly
// before the invocation's deadline and the next scheduled run, waking consumers through SQS.
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import type { Context, ScheduledEvent } from 'aws-lambda';
import { observability } from '../../layers/aws/container.ts';
import { runTickerInvocation, type TickerDeps, tickerDeps } from '../../layers/pgq/lambda/index.ts';

export function createHandler(deps: () => TickerDeps = tickerDeps) {
  return middy(async (event: Partial<ScheduledEvent>, context: Context) => {
    const res = await runTickerInvocation(
      {
        remainingMs: context.getRemainingTimeInMillis(),
        scheduledAt: event?.time ? new Date(event.time) : undefined,
      },
      deps(),
    );
    const { stats } = res;
    return {
      database: stats.database,
      ran: stats.ran,
      ticks: stats.ticks,
      errors: stats.errors,
      wakeupsSent: res.wakeupsSent,
      runForMs: res.runForMs,
    };
  }).use(injectLambdaContext(observability('pgq-ticker').logger));
}

export const handler = createHandler();
