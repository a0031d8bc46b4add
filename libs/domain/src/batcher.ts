/**
 * Batches concurrent calls: the ones that arrive while earlier batches are in flight wait and go
 * together as the next batch (group commit for writes, one `= ANY($1)` query for reads). A call that
 * finds a free slot goes at once — alone, with no timer and no added latency — so batches only form
 * under load, and grow with it (up to `maxBatch`).
 *
 * `run` returns one result per item, in order; an Error in that list fails only its own item. A
 * rejection of `run` fails every item of the batch.
 */
export class Batcher<I, O> {
  private waiting: { item: I; resolve: (o: O) => void; reject: (e: unknown) => void }[] = [];
  private running = 0;

  constructor(
    private readonly run: (items: I[]) => Promise<(O | Error)[]>,
    private readonly o: {
      /** Most items in one batch. */
      maxBatch: number;
      /** Batches in flight at the same time (each holds a database connection while it runs). */
      concurrency: number;
    },
  ) {}

  submit(item: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.waiting.push({ item, resolve, reject });
      this.pump();
    });
  }

  private pump(): void {
    while (this.running < this.o.concurrency && this.waiting.length) {
      const batch = this.waiting.splice(0, this.o.maxBatch);
      this.running++;
      void this.run(batch.map((b) => b.item))
        .then(
          (results) =>
            batch.forEach((b, i) => {
              const r = results[i];
              if (r instanceof Error) b.reject(r);
              else if (results.length !== batch.length)
                b.reject(new Error('Batcher: one result per item expected'));
              else b.resolve(r as O);
            }),
          (e: unknown) => batch.forEach((b) => b.reject(e)),
        )
        .finally(() => {
          this.running--;
          this.pump();
        });
    }
  }
}
