import {
  type EngineRuntimeConfig,
  engineRuntimeConfigSchema,
  jobSecretEnvSchema,
  type WorkerRegisterRequest,
  type WorkerRegisterResponse,
  workerRegisterResponseSchema,
} from '@agentfleet/contracts';
import { type ControlPlaneClient, PermanentRegistrationError } from '@agentfleet/fleet';
import { z } from 'zod';

const registerResponse = workerRegisterResponseSchema.extend({ scheduling: z.string() });
const REQUEST_TIMEOUT_MS = 10_000;

/** The worker's calls to the control plane over HTTP, authenticated by its worker token. */
export class HttpControlPlaneClient implements ControlPlaneClient {
  constructor(
    private readonly baseUrl: string,
    private readonly token: string,
  ) {}

  async register(req: WorkerRegisterRequest): Promise<WorkerRegisterResponse & { scheduling: string }> {
    const body = await this.post('/api/v1/workers/register', req);
    return registerResponse.parse(body);
  }

  /** The settings (and key) of an engine job's engine; asked at the job's start, kept in memory only. */
  async engineConfig(engineId: string, jobId: string): Promise<EngineRuntimeConfig> {
    const res = await fetch(
      new URL(
        `/api/v1/workers/engines/${encodeURIComponent(engineId)}?job_id=${encodeURIComponent(jobId)}`,
        this.baseUrl,
      ),
      {
        headers: { authorization: `Bearer ${this.token}` },
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      },
    );
    if (!res.ok) throw new Error(`control plane answered ${res.status} for engine ${engineId}`);
    return engineRuntimeConfigSchema.parse(await res.json());
  }

  /**
   * The opened values of a starting job's secret references (variable → value); kept in memory only.
   * A refusal carries the control plane's reason (it names the variable, never a value).
   */
  async jobSecretEnv(jobId: string, attempt: number): Promise<Record<string, string>> {
    const res = await fetch(
      new URL(
        `/api/v1/workers/jobs/${encodeURIComponent(jobId)}/secret-env?attempt=${attempt}`,
        this.baseUrl,
      ),
      {
        headers: { authorization: `Bearer ${this.token}` },
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      },
    );
    const body: unknown = await res.json().catch(() => undefined);
    if (!res.ok) {
      const reason = (body as { message?: unknown } | undefined)?.message;
      throw new Error(typeof reason === 'string' ? reason : `control plane answered ${res.status}`);
    }
    return jobSecretEnvSchema.parse(body).env;
  }

  async deregister(workerId: string, reason: string): Promise<void> {
    await this.post(`/api/v1/workers/${encodeURIComponent(workerId)}/deregister`, {
      reason: reason.slice(0, 255),
    });
  }

  private async post(path: string, payload: unknown): Promise<unknown> {
    const res = await fetch(new URL(path, this.baseUrl), {
      method: 'POST',
      headers: { authorization: `Bearer ${this.token}`, 'content-type': 'application/json' },
      body: JSON.stringify(payload),
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
    const text = await res.text();
    let body: unknown;
    try {
      body = text ? JSON.parse(text) : undefined;
    } catch {
      body = undefined;
    }
    if (res.ok) return body;
    const message = (body as { message?: string } | undefined)?.message ?? res.statusText;
    // 4xx (bad token, incompatible protocol, bad request) will not change by retrying; 408/429/5xx may
    if (res.status >= 400 && res.status < 500 && res.status !== 408 && res.status !== 429) {
      throw new PermanentRegistrationError(`${res.status}: ${message}`, res.status);
    }
    throw new Error(`control plane answered ${res.status}: ${message}`);
  }
}
