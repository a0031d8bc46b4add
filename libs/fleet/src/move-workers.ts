import { type WorkerLivenessEvent, livenessTransition } from '@agentfleet/domain';
import type { FleetRepositories, WorkerRecord } from './fleet.ports';

/**
 * Applies a liveness event to the given workers (a conditional update: only those in a `from` status
 * move) and audits each move as a system action, in one statement per step, inside the caller's transaction.
 */
export async function moveWorkers(
  repos: FleetRepositories,
  ids: readonly string[],
  event: WorkerLivenessEvent,
  at: Date,
  audit: { action: string; details?: Record<string, unknown> },
): Promise<WorkerRecord[]> {
  if (!ids.length) return [];
  const { from, to } = livenessTransition(event);
  const moved = await repos.workers.transition(ids, from, to, at);
  await repos.audit.recordMany(
    moved.map((w) => ({
      actor: { organizationId: w.organizationId },
      action: audit.action,
      resourceType: 'worker',
      resourceId: w.id,
      ...(audit.details ? { details: audit.details } : {}),
    })),
  );
  return moved;
}
