/**
 * One run at a time of an async job, with every request made while it
 * runs folded into a single run after it: each caller's promise settles
 * with a run that started after its request (the dataplanes' syncs: a
 * burst of changes costs two syncs, and each caller knows its change is in).
 */
export class Coalesced<T> {
  private running: Promise<T> | undefined;
  private queued: Promise<T> | undefined;

  constructor(private readonly job: () => Promise<T>) {}

  request(): Promise<T> {
    if (this.queued) return this.queued;
    const after = this.running ?? Promise.resolve();
    this.queued = after
      .catch(() => undefined)
      .then(() => {
        this.queued = undefined;
        this.running = this.job().finally(() => (this.running = undefined));
        return this.running;
      });
    return this.queued;
  }
}
