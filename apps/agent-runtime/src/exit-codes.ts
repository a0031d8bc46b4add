/** How the agent-runtime ends; the worker reads only zero / non-zero, people read the rest. */
export const EXIT = {
  /** A result event was printed. */
  ok: 0,
  /** The engine failed (provider refused, unreachable, bad answer); the reason is the last log event. */
  failed: 1,
  /** A variable is missing or invalid; the log event names it. */
  config: 2,
  /** Stopped by SIGTERM/SIGINT (timeout or cancel), as a shell reports 128 + 15. */
  terminated: 143,
} as const;
