/**
 * Engine events for one window, sent on the one push channel. Until the page
 * has finished loading (and again while it reloads) they are queued, so the UI
 * misses nothing it could have shown; the queue keeps the newest `max` events.
 */
import type { AppEvent } from '@contract';

export class EventPump {
  private queue: AppEvent[] = [];
  private ready = false;

  constructor(
    private readonly send: (event: AppEvent) => void,
    private readonly max = 10_000,
  ) {}

  push(event: AppEvent): void {
    if (this.ready) return this.send(event);
    this.queue.push(event);
    if (this.queue.length > this.max) this.queue.splice(0, this.queue.length - this.max);
  }

  /** The page finished loading: deliver the queue, then send as events come. */
  open(): void {
    this.ready = true;
    const queued = this.queue;
    this.queue = [];
    queued.forEach((e) => this.send(e));
  }

  /** The page is (re)loading: queue again. */
  pause(): void {
    this.ready = false;
  }
}
