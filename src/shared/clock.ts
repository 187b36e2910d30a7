/**
 * Time source injected everywhere a duration matters, so tests drive time by hand and never
 * sleep. `nowMs` is monotonic (immune to wall-clock steps); `wallMs` is only for timestamps
 * that leave the process (events, snapshots, status).
 */
export interface Clock {
  /** Monotonic milliseconds since an arbitrary origin. */
  nowMs(): number;
  /** Wall-clock milliseconds since the Unix epoch. */
  wallMs(): number;
}

/** The real clock: `performance.now()` for durations, `Date.now()` for timestamps. */
export const systemClock: Clock = {
  nowMs: () => performance.now(),
  wallMs: () => Date.now(),
};

/** A clock moved by hand, for tests and simulations. */
export class ManualClock implements Clock {
  #now: number;
  #wall: number;

  constructor(startMs = 0, wallStartMs = Date.UTC(2026, 0, 1)) {
    this.#now = startMs;
    this.#wall = wallStartMs;
  }

  nowMs(): number {
    return this.#now;
  }

  wallMs(): number {
    return this.#wall;
  }

  /** Moves both clocks forward by `ms`. */
  advance(ms: number): void {
    if (ms < 0) throw new RangeError(`ManualClock.advance: ms must be >= 0, got ${ms}`);
    this.#now += ms;
    this.#wall += ms;
  }

  /** Sets the monotonic clock to an absolute value (never backwards). */
  set(ms: number): void {
    if (ms < this.#now) throw new RangeError(`ManualClock.set: ${ms} is before ${this.#now}`);
    this.#wall += ms - this.#now;
    this.#now = ms;
  }

  /** Steps only the wall clock, as NTP or an operator would; monotonic time is unaffected. */
  stepWall(deltaMs: number): void {
    this.#wall += deltaMs;
  }
}
