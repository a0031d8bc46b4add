import type {
  WorkerControlMessage,
  WorkerRegisterRequest,
  WorkerRegisterResponse,
} from '@agentfleet/contracts';
import { WorkerLifecycle } from './worker-lifecycle';
import {
  type ControlPlaneClient,
  type HeartbeatOutcome,
  type HeartbeatSender,
  PermanentRegistrationError,
  type WorkerBeat,
  type Workload,
} from './worker-side.ports';

const registration: WorkerRegisterRequest = {
  instance_id: 'i-1',
  hostname: 'h',
  version: '1.0.0',
  protocol_version: 1,
  labels: {},
  capacity: { memory_mb: 1024, cpus: 1, runtimes: ['process'] },
};
const session: WorkerRegisterResponse & { scheduling: string } = {
  worker_id: '11111111-1111-4111-8111-111111111111',
  token_id: '22222222-2222-4222-8222-222222222222',
  organization_id: '33333333-3333-4333-8333-333333333333',
  heartbeat_interval_ms: 10,
  grace_period_ms: 30,
  concurrency: 2,
  capabilities: ['execute'],
  pools: ['default'],
  queues: ['execution-default'],
  token_expires_at: null,
  redis_key_prefix: 'af:',
  scheduling: 'active',
};

class FakeClient implements ControlPlaneClient {
  failuresBeforeSuccess = 0;
  refuse = false;
  registrations = 0;
  deregistrations: string[] = [];
  async register() {
    this.registrations++;
    if (this.refuse) throw new PermanentRegistrationError('401: worker token has been revoked', 401);
    if (this.failuresBeforeSuccess-- > 0) throw new Error('connect ECONNREFUSED');
    return session;
  }
  async deregister(_id: string, reason: string) {
    this.deregistrations.push(reason);
  }
}

class FakeHeartbeat implements HeartbeatSender {
  beats: WorkerBeat[] = [];
  next: HeartbeatOutcome[] = [];
  failNext = 0;
  async beat(b: WorkerBeat): Promise<HeartbeatOutcome> {
    this.beats.push(b);
    if (this.failNext-- > 0) throw new Error('Connection is closed.');
    return this.next.shift() ?? { outcome: 'ok', at: new Date(), controls: [] };
  }
  control(...controls: WorkerControlMessage[]) {
    this.next.push({ outcome: 'ok', at: new Date(), controls });
  }
}

class FakeWorkload implements Workload {
  paused = false;
  settled = 0;
  runningIds: string[] = [];
  running() {
    return this.runningIds;
  }
  freeSlots() {
    return this.paused ? 0 : 2;
  }
  async pause() {
    this.paused = true;
  }
  async resume() {
    this.paused = false;
  }
  async settle() {
    this.settled++;
  }
}

const quietLogger = { info: jest.fn(), warn: jest.fn(), error: jest.fn() };

async function until(cond: () => boolean, ms = 2000) {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not reached');
    await new Promise((r) => setTimeout(r, 2));
  }
}

function make() {
  const client = new FakeClient();
  const heartbeat = new FakeHeartbeat();
  const workload = new FakeWorkload();
  const lifecycle = new WorkerLifecycle({
    registration,
    client,
    heartbeatFor: () => heartbeat,
    workload,
    logger: quietLogger,
    backoff: { initialMs: 1, maxMs: 4 },
    shutdownGraceMs: 10,
  });
  return { client, heartbeat, workload, lifecycle };
}

describe('WorkerLifecycle', () => {
  it('keeps retrying registration with backoff while the control plane is unreachable, and says so', async () => {
    const { client, lifecycle } = make();
    client.failuresBeforeSuccess = 3;
    const s = await lifecycle.start();
    expect(s.worker_id).toBe(session.worker_id);
    expect(client.registrations).toBe(4);
    expect(quietLogger.warn).toHaveBeenCalledWith(
      'control plane unreachable; retrying registration',
      expect.any(Object),
    );
    await lifecycle.stop({ kind: 'signal', signal: 'SIGTERM' });
  });

  it('gives up at once when registration is refused (revoked token, bad protocol)', async () => {
    const { client, lifecycle } = make();
    client.refuse = true;
    await expect(lifecycle.start()).rejects.toBeInstanceOf(PermanentRegistrationError);
    expect(client.registrations).toBe(1);
  });

  it('heartbeats with its free slots and stops without deregistering when the token is revoked', async () => {
    const { client, heartbeat, lifecycle } = make();
    await lifecycle.start();
    await until(() => heartbeat.beats.length >= 2);
    expect(heartbeat.beats[0]).toMatchObject({
      workerId: session.worker_id,
      status: 'online',
      freeSlots: 2,
      ttlMs: 30,
    });
    heartbeat.next.push({ outcome: 'revoked', controls: [] });
    await expect(lifecycle.whenStopped()).resolves.toEqual({
      kind: 'revoked',
      message: 'worker token revoked',
    });
    expect(client.deregistrations).toHaveLength(0);
  });

  it('stops when the token expires', async () => {
    const { heartbeat, lifecycle } = make();
    await lifecycle.start();
    heartbeat.next.push({ outcome: 'expired', controls: [] });
    await expect(lifecycle.whenStopped()).resolves.toMatchObject({ kind: 'expired' });
  });

  it('registers again when Redis has forgotten the token (Redis restarted)', async () => {
    const { client, heartbeat, lifecycle } = make();
    await lifecycle.start();
    heartbeat.next.push({ outcome: 'unknown', controls: [] });
    await until(() => client.registrations === 2);
    await until(() => heartbeat.beats.length >= 3);
    await lifecycle.stop({ kind: 'signal', signal: 'SIGTERM' });
  });

  it('keeps heartbeating after Redis errors, logging them', async () => {
    const { heartbeat, lifecycle } = make();
    heartbeat.failNext = 3;
    await lifecycle.start();
    await until(() => heartbeat.beats.length >= 5);
    expect(quietLogger.warn).toHaveBeenCalledWith(
      'heartbeat failed: Redis unreachable; retrying',
      expect.any(Object),
    );
    await lifecycle.stop({ kind: 'signal', signal: 'SIGTERM' });
  });

  it('drains on a drain message: takes no new work and reports drained once idle; uncordon resumes', async () => {
    const { heartbeat, workload, lifecycle } = make();
    workload.runningIds = ['job-1'];
    await lifecycle.start();
    heartbeat.control({ type: 'drain' });
    await until(() => heartbeat.beats.some((b) => b.status === 'draining'));
    expect(workload.paused).toBe(true);
    expect(heartbeat.beats.at(-1)?.freeSlots).toBe(0);
    workload.runningIds = [];
    await until(() => heartbeat.beats.at(-1)?.status === 'drained');
    heartbeat.control({ type: 'uncordon' });
    await until(() => heartbeat.beats.at(-1)?.status === 'online');
    expect(workload.paused).toBe(false);
    await lifecycle.stop({ kind: 'signal', signal: 'SIGTERM' });
  });

  it('stops on a stop control message', async () => {
    const { heartbeat, lifecycle } = make();
    await lifecycle.start();
    heartbeat.control({ type: 'stop', reason: 'worker token revoked' });
    await expect(lifecycle.whenStopped()).resolves.toEqual({
      kind: 'control',
      message: 'worker token revoked',
    });
  });

  it('on SIGTERM stops taking work, lets running work settle, then deregisters — once', async () => {
    const { client, heartbeat, workload, lifecycle } = make();
    await lifecycle.start();
    await until(() => heartbeat.beats.length >= 1);
    await Promise.all([
      lifecycle.stop({ kind: 'signal', signal: 'SIGTERM' }),
      lifecycle.stop({ kind: 'signal', signal: 'SIGTERM' }),
    ]);
    expect(workload.paused).toBe(true);
    expect(workload.settled).toBe(1);
    expect(client.deregistrations).toEqual(['signal SIGTERM']);
    const beats = heartbeat.beats.length;
    await new Promise((r) => setTimeout(r, 30));
    expect(heartbeat.beats.length).toBe(beats);
  });

  it('registers again on a reload message (token settings changed), keeping its id; the workload takes the new session', async () => {
    const { client, heartbeat, workload, lifecycle } = make();
    await lifecycle.start();
    const resumes = jest.spyOn(workload, 'resume');
    let again = 0;
    client.register = async () => {
      again++;
      return { ...session, pools: ['default', 'gpu'], concurrency: 6 };
    };
    heartbeat.control({ type: 'reload' });
    await until(() => again === 1);
    expect(lifecycle.currentSession).toMatchObject({
      worker_id: session.worker_id,
      pools: ['default', 'gpu'],
      concurrency: 6,
    });
    expect(resumes).toHaveBeenCalledTimes(1);
    await lifecycle.stop({ kind: 'signal', signal: 'SIGTERM' });
  });

  it('retries a reload with the next heartbeats while the control plane is unreachable, heartbeating meanwhile', async () => {
    const { client, heartbeat, lifecycle } = make();
    await lifecycle.start();
    client.failuresBeforeSuccess = 2;
    const before = client.registrations;
    heartbeat.control({ type: 'reload' });
    await until(() => client.registrations === before + 3);
    const beats = heartbeat.beats.length;
    await until(() => heartbeat.beats.length >= beats + 3);
    // done: no more registrations once one succeeded
    expect(client.registrations).toBe(before + 3);
    expect(quietLogger.warn).toHaveBeenCalledWith(
      'could not take new token settings (control plane unreachable); retrying',
      expect.any(Object),
    );
    await lifecycle.stop({ kind: 'signal', signal: 'SIGTERM' });
  });

  it('registers once for several reloads that came with one heartbeat', async () => {
    const { client, heartbeat, lifecycle } = make();
    await lifecycle.start();
    heartbeat.control({ type: 'reload' }, { type: 'reload' }, { type: 'reload' });
    await until(() => client.registrations === 2);
    const beats = heartbeat.beats.length;
    await until(() => heartbeat.beats.length >= beats + 2);
    expect(client.registrations).toBe(2);
    await lifecycle.stop({ kind: 'signal', signal: 'SIGTERM' });
  });

  it('stays cordoned when it registers again on a reload', async () => {
    const { client, heartbeat, workload, lifecycle } = make();
    await lifecycle.start();
    heartbeat.control({ type: 'cordon' });
    await until(() => lifecycle.schedulingState === 'cordoned');
    client.register = async () => {
      client.registrations++;
      return { ...session, scheduling: 'cordoned' };
    };
    heartbeat.control({ type: 'reload' });
    await until(() => client.registrations === 2);
    expect(workload.paused).toBe(true);
    expect(lifecycle.schedulingState).toBe('cordoned');
    await lifecycle.stop({ kind: 'signal', signal: 'SIGTERM' });
  });

  it('starts paused when the control plane says it is cordoned', async () => {
    const { client, workload, lifecycle } = make();
    client.register = async () => ({ ...session, scheduling: 'cordoned' });
    await lifecycle.start();
    expect(workload.paused).toBe(true);
    expect(lifecycle.schedulingState).toBe('cordoned');
    await lifecycle.stop({ kind: 'signal', signal: 'SIGTERM' });
  });
});
