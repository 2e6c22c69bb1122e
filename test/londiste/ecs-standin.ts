// ECS as the copy launcher sees it, for tests (ECS cannot run here): RunTask, ListTasks and
// DescribeTasks over tasks the test controls. `runTask` decides what a RunTask does — answer with
// failures, start a task the test stops itself, or run the container's command as a local process
// (`processTask`: the copy task's entry point, with the environment its task definition gives it).
import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import { AwsJsonError, type AwsJsonHandlers } from '../support/aws-json.ts';

export interface FakeTask {
  taskArn: string;
  startedBy: string;
  command: string[];
  lastStatus: 'PROVISIONING' | 'PENDING' | 'RUNNING' | 'STOPPED';
  desiredStatus: 'RUNNING' | 'STOPPED';
  exitCode?: number;
  stopCode?: string;
  stoppedReason?: string;
}

export type RunTaskDecision =
  | { fail: string }
  | { task: (t: FakeTask) => void }
  | { error: { type: string; message: string } };

export class EcsStandIn {
  readonly tasks: FakeTask[] = [];
  readonly processes: ChildProcess[] = [];
  private n = 0;
  /** What the next RunTask does (default: a task left PENDING for the test to move). */
  runTask: (body: Record<string, unknown>) => RunTaskDecision = () => ({ task: () => {} });

  stop(t: FakeTask, exitCode: number, reason = 'Essential container in task exited') {
    t.lastStatus = 'STOPPED';
    t.desiredStatus = 'STOPPED';
    t.exitCode = exitCode;
    t.stopCode = 'EssentialContainerExited';
    t.stoppedReason = reason;
  }

  /** Runs the container command as `node bin/skytools.ts <command…>` with `env`; its exit stops the task. */
  processTask(env: NodeJS.ProcessEnv, onOutput?: (line: string) => void): (t: FakeTask) => void {
    const cli = path.resolve(import.meta.dirname, '../../bin/skytools.ts');
    return (t) => {
      t.lastStatus = 'RUNNING';
      const p = spawn(process.execPath, [cli, ...t.command], { env, stdio: ['ignore', 'ignore', 'pipe'] });
      this.processes.push(p);
      let buf = '';
      p.stderr?.on('data', (d: Buffer) => {
        buf += d.toString('utf8');
        let i = buf.indexOf('\n');
        while (i >= 0) {
          onOutput?.(buf.slice(0, i));
          buf = buf.slice(i + 1);
          i = buf.indexOf('\n');
        }
      });
      p.on('exit', (code) => this.stop(t, code ?? 137));
    };
  }

  handlers(): AwsJsonHandlers {
    return {
      RunTask: (body) => {
        const d = this.runTask(body);
        if ('error' in d) throw new AwsJsonError(d.error.type, d.error.message);
        if ('fail' in d)
          return {
            tasks: [],
            failures: [{ arn: 'arn:aws:ecs:eu-west-1:1:container-instance/x', reason: d.fail }],
          };
        const overrides = body.overrides as { containerOverrides: { command: string[] }[] };
        const t: FakeTask = {
          taskArn: `arn:aws:ecs:eu-west-1:111111111111:task/c/${++this.n}`,
          startedBy: String(body.startedBy),
          command: overrides.containerOverrides[0]!.command,
          lastStatus: 'PROVISIONING',
          desiredStatus: 'RUNNING',
        };
        this.tasks.push(t);
        d.task(t);
        return { tasks: [this.describe(t)], failures: [] };
      },
      ListTasks: (body) => ({
        taskArns: this.tasks
          .filter((t) => t.startedBy === body.startedBy && t.desiredStatus === 'RUNNING')
          .map((t) => t.taskArn),
      }),
      DescribeTasks: (body) => ({
        tasks: this.tasks
          .filter((t) => (body.tasks as string[]).includes(t.taskArn))
          .map((t) => this.describe(t)),
        failures: [],
      }),
    };
  }

  private describe(t: FakeTask) {
    return {
      taskArn: t.taskArn,
      startedBy: t.startedBy,
      lastStatus: t.lastStatus,
      desiredStatus: t.desiredStatus,
      stopCode: t.stopCode,
      stoppedReason: t.stoppedReason,
      containers: [{ name: 'londiste', exitCode: t.exitCode, lastStatus: t.lastStatus }],
    };
  }

  async kill() {
    for (const p of this.processes) if (p.exitCode === null) p.kill('SIGTERM');
    await Promise.all(
      this.processes.map((p) => (p.exitCode === null ? new Promise((r) => p.once('exit', r)) : null)),
    );
  }
}
