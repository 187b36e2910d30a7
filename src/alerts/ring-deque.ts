/**
 * A growable ring buffer: O(1) push and pop at both ends. The dispatcher's queues need "drop the
 * oldest" and "put a due retry back in front" without Array#shift's O(n) copying, because
 * enqueue must stay O(1) even when 1000 deliveries wait.
 */
export class RingDeque<T> {
  #items: (T | undefined)[] = new Array<T | undefined>(16);
  #head = 0;
  #size = 0;

  get size(): number {
    return this.#size;
  }

  /** Appends at the back (newest). */
  pushBack(item: T): void {
    this.#growIfFull();
    this.#items[(this.#head + this.#size) % this.#items.length] = item;
    this.#size++;
  }

  /** Inserts at the front (next to be taken). */
  pushFront(item: T): void {
    this.#growIfFull();
    this.#head = (this.#head - 1 + this.#items.length) % this.#items.length;
    this.#items[this.#head] = item;
    this.#size++;
  }

  /** Removes and returns the front (oldest) item. */
  shift(): T | undefined {
    if (this.#size === 0) return undefined;
    const item = this.#items[this.#head];
    // Clear the slot so a dropped alert can be collected.
    this.#items[this.#head] = undefined;
    this.#head = (this.#head + 1) % this.#items.length;
    this.#size--;
    return item;
  }

  #growIfFull(): void {
    if (this.#size < this.#items.length) return;
    const grown = new Array<T | undefined>(this.#items.length * 2);
    for (let i = 0; i < this.#size; i++)
      grown[i] = this.#items[(this.#head + i) % this.#items.length];
    this.#items = grown;
    this.#head = 0;
  }
}
