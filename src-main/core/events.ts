import { EventEmitter } from 'node:events';
import type { AppEvent } from '@contract';

/** The engine's event stream: download progress, VM state, console data. */
export class EventBus {
  private readonly ee = new EventEmitter();
  constructor() {
    this.ee.setMaxListeners(0);
  }
  emit(event: AppEvent): void {
    this.ee.emit('event', event);
  }
  on(listener: (event: AppEvent) => void): () => void {
    this.ee.on('event', listener);
    return () => this.ee.off('event', listener);
  }
}
