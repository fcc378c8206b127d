/**
 * What a component of the bot is doing now: `up`; `degraded` (working with less, e.g. Discord
 * without the Message Content intent); `starting`; `retrying` after a failure that may pass;
 * `down` until an operator acts (bad token, app uninstalled); `stopped` on shutdown.
 */
export type ComponentState = 'starting' | 'up' | 'degraded' | 'retrying' | 'down' | 'stopped';

/** One component's status as /healthz shows it. */
export interface ComponentStatus {
  state: ComponentState;
  /** Why it is not simply up, in words an operator can act on. */
  reason?: string;
  /** A stable machine-readable reason, e.g. `invalid_auth` or `disallowed_intents`. */
  code?: string;
  /** ISO time of the last change of state. */
  since: string;
  /** Failed attempts in a row while retrying. */
  attempts?: number;
  /** ISO time of the next attempt while retrying. */
  nextAttemptAt?: string;
}

/** What an adapter reports about itself. */
export interface HealthReporter {
  report(state: ComponentState, details?: Omit<ComponentStatus, 'state' | 'since'>): void;
}

/**
 * The status of every component, for /healthz and the `supportbot_component_up` gauge. Components
 * report changes; the registry keeps the latest of each and notifies listeners.
 */
export class HealthRegistry {
  readonly #components = new Map<string, ComponentStatus>();
  readonly #listeners = new Set<(component: string, status: ComponentStatus) => void>();
  readonly #now: () => number;

  constructor(options: { now?: () => number } = {}) {
    this.#now = options.now ?? Date.now;
  }

  /** Records a component's new state. */
  report(
    component: string,
    state: ComponentState,
    details: Omit<ComponentStatus, 'state' | 'since'> = {},
  ): void {
    const previous = this.#components.get(component);
    const since = previous && previous.state === state ? previous.since : new Date(this.#now()).toISOString();
    const status: ComponentStatus = { state, since, ...details };
    this.#components.set(component, status);
    for (const listener of this.#listeners) listener(component, status);
  }

  /** A reporter bound to one component, for an adapter's options. */
  reporter(component: string): HealthReporter {
    return { report: (state, details) => this.report(component, state, details) };
  }

  get(component: string): ComponentStatus | undefined {
    return this.#components.get(component);
  }

  /** Every component's status, by name. */
  snapshot(): Record<string, ComponentStatus> {
    return Object.fromEntries([...this.#components].map(([name, status]) => [name, { ...status }]));
  }

  /** Calls `listener` on every change; returns a function that stops it. */
  onChange(listener: (component: string, status: ComponentStatus) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }
}
