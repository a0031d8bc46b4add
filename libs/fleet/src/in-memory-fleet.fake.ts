import type { WorkerControlMessage, WorkerScheduling, WorkerStatus } from '@agentfleet/contracts';
import type { AuditEntry, UnitOfWork } from '@agentfleet/domain';
import { randomUUID } from 'node:crypto';
import type {
  FleetLiveness,
  FleetRepositories,
  LiveWorkerState,
  RegistrationFields,
  WorkerRecord,
  WorkerTokenRecord,
} from './fleet.ports';

/** In-memory fakes of the fleet ports, for unit specs. Same conditional semantics as the SQL. */
export class InMemoryFleet implements UnitOfWork<FleetRepositories> {
  readonly tokens = new Map<string, WorkerTokenRecord>();
  readonly workers = new Map<string, WorkerRecord>();
  readonly audit: AuditEntry[] = [];
  /** Organization name → id, for the organization lookup. */
  readonly organizationIds = new Map<string, string>();
  /** How many times provisioning took its lock (the SQL holds it until the transaction ends). */
  provisioningLocks = 0;

  readonly repos: FleetRepositories = {
    workerTokens: {
      create: async (t) => {
        // the SQL's unique indexes on prefix and token_hash
        if ([...this.tokens.values()].some((x) => x.prefix === t.prefix || x.tokenHash === t.tokenHash))
          throw new Error('duplicate key value violates unique constraint on worker_tokens');
        const r: WorkerTokenRecord = {
          ...t,
          id: randomUUID(),
          createdAt: new Date(),
          lastUsedAt: null,
          revokedAt: null,
          workerId: null,
        };
        this.tokens.set(r.id, r);
        return { ...r };
      },
      findByPrefix: async (p) => [...this.tokens.values()].find((t) => t.prefix === p),
      findById: async (org, id) => {
        const t = this.tokens.get(id);
        return t && t.organizationId === org ? { ...t } : undefined;
      },
      list: async (org) => {
        const items = [...this.tokens.values()].filter((t) => t.organizationId === org);
        return { items, total: items.length };
      },
      revoke: async (org, id, at) => {
        const t = this.tokens.get(id);
        if (!t || t.organizationId !== org || t.revokedAt) return undefined;
        t.revokedAt = at;
        return { ...t };
      },
      recordUse: async (id, workerId, at) => {
        const t = this.tokens.get(id);
        if (t) Object.assign(t, { workerId, lastUsedAt: at });
      },
      findByNameAndCreator: async (org, name, createdBy) =>
        [...this.tokens.values()]
          .filter((t) => t.organizationId === org && t.name === name && t.createdBy === createdBy)
          .map((t) => ({ ...t })),
      updateSettings: async (org, id, settings) => {
        const t = this.tokens.get(id);
        if (!t || t.organizationId !== org || t.revokedAt) return undefined;
        Object.assign(t, settings);
        return { ...t };
      },
      lockProvisioning: async () => void this.provisioningLocks++,
      deadWithActiveWorkers: async (at) =>
        [...this.tokens.values()].filter(
          (t) =>
            (t.revokedAt || (t.expiresAt && t.expiresAt <= at)) &&
            [...this.workers.values()].some((w) => w.tokenId === t.id && w.status !== 'offline'),
        ),
    },
    workers: {
      upsertRegistration: async (f: RegistrationFields) => {
        const existing = [...this.workers.values()].find(
          (w) => w.tokenId === f.tokenId && w.instanceId === f.instanceId,
        );
        const w: WorkerRecord = {
          ...f,
          id: existing?.id ?? randomUUID(),
          status: 'online',
          scheduling: existing?.scheduling ?? 'active',
          lastSeenAt: f.registeredAt,
          lostAt: existing?.lostAt ?? null,
          offlineAt: null,
        };
        this.workers.set(w.id, w);
        return { ...w };
      },
      findById: async (org, id) => {
        const w = this.workers.get(id);
        return w && w.organizationId === org ? { ...w } : undefined;
      },
      list: async (org, filter) => {
        const items = [...this.workers.values()].filter(
          (w) =>
            w.organizationId === org &&
            (!filter.status || w.status === filter.status) &&
            (!filter.pool || w.pools.includes(filter.pool)) &&
            (!filter.scheduling || w.scheduling === filter.scheduling),
        );
        return { items, total: items.length };
      },
      transition: async (ids, from: readonly WorkerStatus[], to: WorkerStatus, at) => {
        const moved: WorkerRecord[] = [];
        for (const id of ids) {
          const w = this.workers.get(id);
          if (!w || !from.includes(w.status)) continue;
          w.status = to;
          if (to === 'lost') w.lostAt = at;
          if (to === 'offline') w.offlineAt = at;
          moved.push({ ...w });
        }
        return moved;
      },
      setScheduling: async (org, id, s: WorkerScheduling) => {
        const w = this.workers.get(id);
        if (!w || w.organizationId !== org) return undefined;
        w.scheduling = s;
        return { ...w };
      },
      lostIds: async () => [...this.workers.values()].filter((w) => w.status === 'lost').map((w) => w.id),
      activeByToken: async (tokenId) =>
        [...this.workers.values()].filter((w) => w.tokenId === tokenId && w.status !== 'offline'),
      withStaleSettings: async (registeredBefore, limit) => {
        const sameSet = (a: readonly string[], b: readonly string[]) =>
          a.length === b.length && a.every((x) => b.includes(x));
        return [...this.workers.values()]
          .filter((w) => {
            const t = this.tokens.get(w.tokenId);
            if (!t || t.revokedAt || w.status !== 'online' || w.registeredAt >= registeredBefore)
              return false;
            const slots =
              typeof w.capacity['slots'] === 'number' ? w.capacity['slots'] : t.maxConcurrentTasks;
            const concurrency = Math.min(t.maxConcurrentTasks, slots);
            return (
              !sameSet(w.pools, t.pools) ||
              !sameSet(w.capabilities, t.capabilities) ||
              w.concurrency !== concurrency ||
              Object.entries(t.labels).some(([k, v]) => w.labels[k] !== v)
            );
          })
          .map((w) => w.id)
          .slice(0, limit);
      },
    },
    organizations: {
      idByName: async (name) => this.organizationIds.get(name),
    },
    audit: {
      record: async (e) => void this.audit.push(e),
      recordMany: async (es) => void this.audit.push(...es),
    },
  };

  run<T>(work: (repos: FleetRepositories) => Promise<T>): Promise<T> {
    return work(this.repos);
  }
}

/** Fake Redis side of liveness with a settable clock. */
export class FakeLiveness implements FleetLiveness {
  nowMs = 1_000_000;
  readonly alive = new Map<string, number>();
  readonly tokenState = new Map<string, { revoked: boolean; expiresAt: Date | null }>();
  readonly controls: { workerId: string; message: WorkerControlMessage }[] = [];
  failForgetStale = false;

  beat(workerId: string) {
    this.alive.set(workerId, this.nowMs);
  }
  async publishTokenState(tokenId: string, state: { revoked: boolean; expiresAt: Date | null }) {
    this.tokenState.set(tokenId, state);
  }
  async sendControl(workerId: string, message: WorkerControlMessage) {
    this.controls.push({ workerId, message });
  }
  async readLive(ids: readonly string[]) {
    const m = new Map<string, LiveWorkerState>();
    for (const id of ids) {
      const at = this.alive.get(id);
      if (at !== undefined)
        m.set(id, { status: 'online', version: '1', running: [], freeSlots: 1, lastSeen: new Date(at) });
    }
    return m;
  }
  async now() {
    return new Date(this.nowMs);
  }
  async staleSince(cutoff: Date, limit: number) {
    return [...this.alive.entries()]
      .filter(([, s]) => s <= cutoff.getTime())
      .map(([id]) => id)
      .slice(0, limit);
  }
  async forgetStale(ids: readonly string[], cutoff: Date) {
    if (this.failForgetStale) throw new Error('Redis went away');
    for (const id of ids) if ((this.alive.get(id) ?? Infinity) <= cutoff.getTime()) this.alive.delete(id);
  }
  async lastBeats(ids: readonly string[]) {
    const m = new Map<string, Date>();
    for (const id of ids) {
      const s = this.alive.get(id);
      if (s !== undefined) m.set(id, new Date(s));
    }
    return m;
  }
  async markAlive(workerId: string) {
    this.beat(workerId);
  }
  async forget(workerId: string) {
    this.alive.delete(workerId);
  }
}
