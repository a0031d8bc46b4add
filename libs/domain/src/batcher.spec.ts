import { Batcher } from './batcher';

/** A write that records its batches and finishes when told to. */
function recorder() {
  const batches: number[][] = [];
  const pending: (() => void)[] = [];
  const write = (items: number[]) => {
    batches.push(items);
    return new Promise<(number | Error)[]>((resolve) =>
      pending.push(() => resolve(items.map((i) => (i < 0 ? new Error(`bad ${i}`) : i * 10)))),
    );
  };
  const finishNext = async () => {
    pending.shift()?.();
    await new Promise((r) => setImmediate(r));
  };
  return { batches, write, finishNext };
}

describe('Batcher', () => {
  it('writes a lone call at once, alone', async () => {
    const r = recorder();
    const g = new Batcher(r.write, { maxBatch: 10, concurrency: 1 });
    const p = g.submit(1);
    expect(r.batches).toEqual([[1]]);
    await r.finishNext();
    await expect(p).resolves.toBe(10);
  });

  it('batches the calls that arrive while a write is in flight, up to maxBatch', async () => {
    const r = recorder();
    const g = new Batcher(r.write, { maxBatch: 3, concurrency: 1 });
    const results = [1, 2, 3, 4, 5, 6].map((i) => g.submit(i));
    expect(r.batches).toEqual([[1]]);
    await r.finishNext();
    expect(r.batches).toEqual([[1], [2, 3, 4]]);
    await r.finishNext();
    expect(r.batches).toEqual([[1], [2, 3, 4], [5, 6]]);
    await r.finishNext();
    await expect(Promise.all(results)).resolves.toEqual([10, 20, 30, 40, 50, 60]);
  });

  it('runs up to `concurrency` batches at once', () => {
    const r = recorder();
    const g = new Batcher(r.write, { maxBatch: 10, concurrency: 2 });
    for (const i of [1, 2, 3, 4]) void g.submit(i);
    expect(r.batches).toEqual([[1], [2]]);
  });

  it('fails only the item whose result is an Error', async () => {
    const r = recorder();
    const g = new Batcher(r.write, { maxBatch: 10, concurrency: 1 });
    const first = expect(g.submit(1)).resolves.toBe(10);
    const good = expect(g.submit(2)).resolves.toBe(20);
    const bad = expect(g.submit(-1)).rejects.toThrow('bad -1');
    expect(r.batches).toEqual([[1]]);
    await r.finishNext();
    expect(r.batches).toEqual([[1], [2, -1]]);
    await r.finishNext();
    await Promise.all([first, good, bad]);
  });

  it('fails every item of a batch whose write rejects, and goes on with the next batch', async () => {
    let calls = 0;
    const g = new Batcher<number, number>(
      (items) => (++calls === 1 ? Promise.reject(new Error('database away')) : Promise.resolve(items)),
      { maxBatch: 10, concurrency: 1 },
    );
    await expect(g.submit(1)).rejects.toThrow('database away');
    await expect(g.submit(2)).resolves.toBe(2);
  });
});
