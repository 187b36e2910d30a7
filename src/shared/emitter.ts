/**
 * A typed, synchronous event source. Subscribing returns the unsubscribe function. Emitting with
 * no listeners costs one length check, so hot paths can emit freely. A listener that throws never
 * breaks the emitter or the other listeners: the error goes to `onListenerError`.
 */
export type Listener<T> = (event: T) => void;

export class Emitter<T> {
  #listeners: Listener<T>[] = [];
  readonly #onListenerError: (error: unknown) => void;

  constructor(onListenerError: (error: unknown) => void = () => undefined) {
    this.#onListenerError = onListenerError;
  }

  /** Adds a listener; the returned function removes it (idempotent). */
  subscribe(listener: Listener<T>): () => void {
    // Copy on write so a listener that unsubscribes during emit does not skip its neighbours.
    this.#listeners = [...this.#listeners, listener];
    return () => {
      this.#listeners = this.#listeners.filter((l) => l !== listener);
    };
  }

  get size(): number {
    return this.#listeners.length;
  }

  emit(event: T): void {
    const listeners = this.#listeners;
    for (const listener of listeners) {
      try {
        listener(event);
      } catch (error) {
        this.#onListenerError(error);
      }
    }
  }
}
