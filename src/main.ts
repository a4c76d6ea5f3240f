import { loadKubeConfig } from './kube/client.js';
import { Manager, type ManagerOptions } from './controller/manager.js';
import { createLogger } from './log.js';

export interface OperatorRunOptions extends Partial<ManagerOptions> {
  kubeconfig?: string | undefined;
  context?: string | undefined;
  inCluster?: boolean | undefined;
  logLevel: string;
}

/**
 * Runs the operator until SIGTERM or SIGINT, then shuts down gracefully: reconciles in flight finish, the lease
 * is released so a standby takes over at once, caches and the HTTP server stop. Resolves with the exit code.
 */
export async function runOperator(opts: OperatorRunOptions): Promise<number> {
  const log = createLogger(opts.logLevel);
  let manager: Manager;
  let exitLost: ((code: number) => void) | undefined;
  try {
    const kc = loadKubeConfig({
      kubeconfig: opts.kubeconfig,
      inCluster: opts.inCluster,
      context: opts.context,
    });
    // Losing the lease ends the process (as controller-runtime does): its writes are already cancelled, and
    // the Deployment restarts it clean, with empty caches, as a standby.
    manager = new Manager(kc, opts, {
      logger: log,
      onLeadershipLost: (why) => {
        log.fatal({ why }, `leadership lost (${why}): exiting; a restarted process campaigns again`);
        exitLost?.(1);
      },
    });
  } catch (err) {
    log.fatal({ err: err instanceof Error ? err.message : String(err) }, 'cannot start');
    return 1;
  }
  let stopping: Promise<void> | undefined;
  const stopped = new Promise<number>((resolve) => {
    exitLost = resolve;
    const onSignal = (signal: NodeJS.Signals): void => {
      if (stopping) {
        log.warn({ signal }, 'second signal: exiting now');
        resolve(1);
        return;
      }
      log.info({ signal }, 'shutting down');
      stopping = manager.stop().then(
        () => resolve(0),
        (err: unknown) => {
          log.error({ err }, 'shutdown failed');
          resolve(1);
        },
      );
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });
  try {
    log.info(
      { identity: manager.identity, leaderElect: opts.leaderElect ?? false, dryRun: opts.dryRun ?? false },
      'starting',
    );
    await manager.start();
  } catch (err) {
    log.fatal({ err: err instanceof Error ? err.message : String(err) }, 'cannot start');
    await manager.stop().catch(() => undefined);
    return 1;
  }
  return stopped;
}
