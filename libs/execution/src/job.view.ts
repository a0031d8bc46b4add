import { secretRefsOf } from '@agentfleet/contracts';
import type { ExecutionJobRecord, TargetRecord } from './execution.ports';

/**
 * Public shape of a job. Env values are never returned (they may hold credentials); names are, and
 * which variables reference a secret (variable → secret name; names only, values are never stored here).
 */
export function jobView(j: ExecutionJobRecord) {
  return {
    id: j.id,
    organization_id: j.organizationId,
    supervisor_run_id: j.supervisorRunId,
    status: j.status,
    attempt: j.attempt,
    progress: j.progress,
    pool: j.pool,
    target_id: j.targetId,
    engine_id: j.engineId,
    image: j.image,
    command: j.command,
    env_names: Object.keys(j.env),
    env_secrets: secretRefsOf(j.env),
    memory_limit_mb: j.memoryLimitMb,
    cpu: j.cpu,
    pids_limit: j.pidsLimit,
    timeout_seconds: j.timeoutSeconds,
    network: j.network,
    priority: j.priority,
    idempotency_key: j.idempotencyKey,
    retries: { max: j.maxRetries, used: j.retryCount, backoff_ms: j.retryBackoffMs },
    oom_retry: { enabled: j.oomRetryEnabled, max_memory_mb: j.oomRetryMaxMemoryMb, used: j.oomRetried },
    worker_id: j.workerId,
    container_id: j.containerId,
    target_host: j.targetHost,
    exit_code: j.exitCode,
    oom_evidence: j.oomEvidence,
    peak_memory_mb: j.peakMemoryMb,
    result: j.result ?? null,
    error: j.error,
    last_failure_reason: j.lastFailureReason,
    usage: {
      prompt_tokens: j.promptTokens,
      completion_tokens: j.completionTokens,
      cost_usd: Number(j.costUsd),
    },
    metadata: j.metadata,
    created_at: j.createdAt.toISOString(),
    queued_at: j.queuedAt.toISOString(),
    started_at: j.startedAt?.toISOString() ?? null,
    completed_at: j.completedAt?.toISOString() ?? null,
    timeout_at: j.timeoutAt?.toISOString() ?? null,
    cancel_requested_at: j.cancelRequestedAt?.toISOString() ?? null,
  };
}
export type JobView = ReturnType<typeof jobView>;

export function targetView(t: TargetRecord) {
  return {
    id: t.id,
    organization_id: t.organizationId,
    name: t.name,
    type: t.type,
    worker_pool: t.workerPool,
    connection: t.connectionConfig,
    capacity: t.capacity,
    allowed_images: t.allowedImages,
    default_image: t.defaultImage,
    breaker: t.breakerOptions,
    is_active: t.isActive,
    created_at: t.createdAt.toISOString(),
  };
}
