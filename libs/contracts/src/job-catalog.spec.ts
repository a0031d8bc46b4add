import { JOB_CATALOG, executionRunPayloadSchema, handlerRegistry } from './job-catalog';

describe('job catalog', () => {
  it('accepts exactly one handler per job', () => {
    expect(handlerRegistry([['execution.run', 1]]).get('execution.run')).toBe(1);
  });

  it('refuses a job with no handler, with two, and a handler for an unknown job', () => {
    expect(() => handlerRegistry([])).toThrow('no handler for job execution.run');
    expect(() =>
      handlerRegistry([
        ['execution.run', 1],
        ['execution.run', 2],
      ]),
    ).toThrow('two handlers');
    expect(() =>
      handlerRegistry([
        ['execution.run', 1],
        ['nope', 2],
      ]),
    ).toThrow('unknown job "nope"');
  });

  it('routes execution jobs to a queue per pool whose name BullMQ accepts', () => {
    expect(JOB_CATALOG['execution.run'].queue('gpu')).toBe('execution-gpu');
    expect(JOB_CATALOG['execution.run'].queue('gpu')).not.toContain(':');
  });

  it('refuses a payload of an unknown version', () => {
    expect(executionRunPayloadSchema.safeParse({ v: 2 }).success).toBe(false);
  });
});
