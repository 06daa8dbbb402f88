// server.workers > 1: a primary process forks that many workers, each a full tenantgate serving the same
// addresses (Node cluster shares the listening sockets; grpc-js has no SO_REUSEPORT). Signals go to every worker;
// a worker that dies unexpectedly is replaced. Local quota counters are per worker: use quota.store: redis for
// limits that are exact across workers.
import cluster from 'node:cluster';

export function runPrimary(workers: number, log: (msg: string) => void = (m) => process.stderr.write(m + '\n')): void {
  let stopping = false;
  let failed = false;
  const fork = () => cluster.fork();
  for (let i = 0; i < workers; i++) fork();
  cluster.on('exit', (worker, code, signal) => {
    if (stopping) {
      if (code !== 0) failed = true;
      if (Object.keys(cluster.workers ?? {}).length === 0) process.exit(failed ? 1 : 0);
      return;
    }
    log(`tenantgate worker ${worker.process.pid} exited (${signal ?? code}); starting another`);
    fork();
  });
  const forward = (sig: NodeJS.Signals) => {
    for (const w of Object.values(cluster.workers ?? {})) w?.process.kill(sig);
  };
  for (const sig of ['SIGTERM', 'SIGINT'] as const) {
    process.on(sig, () => {
      stopping = true;
      forward(sig);
    });
  }
  process.on('SIGHUP', () => forward('SIGHUP'));
}

export const isPrimary = () => cluster.isPrimary;
