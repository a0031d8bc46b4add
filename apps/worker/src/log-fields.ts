/**
 * The worker's id on every log line once it has one: the logger is made before registration, so its
 * mixin asks this holder, which the runtime points at the lifecycle.
 */
let workerId: () => string | undefined = () => undefined;

export function setWorkerIdSource(source: () => string | undefined): void {
  workerId = source;
}

export function workerLogFields(): Record<string, unknown> {
  const id = workerId();
  return id ? { worker_id: id } : {};
}
