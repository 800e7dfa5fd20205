// "Let the agent fly" on /play: the pretrained agent takes the controls and steps with its
// suggested action at a steady pace, until the person takes them back (any key or click),
// the episode ends, or a request fails. The page supplies the two requests; this is the clock.

/** What the pretrained agent would do now (POST /api/play/sessions/{id}/suggest). */
export interface Suggestion {
  model: string;
  /** its likeliest action: what it plays */
  action: number;
  /** up to 5 [action, probability], likeliest first */
  top: [number, number][];
  value: number;
  entropy: number;
}

export interface AutopilotHooks {
  /** the agent's suggestion for the session's current state */
  suggest: () => Promise<Suggestion>;
  /** take `action`; false when the episode is over (the agent lands) */
  step: (action: number) => Promise<boolean>;
  /** steps per second (the page's hold pace, read at every step) */
  pace: () => number;
  /** flying started or stopped, or a new suggestion is being flown */
  onChange: (suggestion: Suggestion | null) => void;
  sleep?: (ms: number) => Promise<void>;
  now?: () => number;
}

export class Autopilot {
  flying = false;
  /** why the last flight ended when it was not the person's choice (a failed request), else null */
  problem: string | null = null;
  /** steps the agent took in the current (or last) flight */
  steps = 0;
  private flight = 0;

  constructor(private hooks: AutopilotHooks) {}

  start(): void {
    if (this.flying) return;
    this.flying = true;
    this.problem = null;
    this.steps = 0;
    const flight = ++this.flight;
    this.hooks.onChange(null);
    void this.fly(flight);
  }

  /** The person took the controls back (or the page closes): no step is sent after this. */
  stop(problem: string | null = null): void {
    if (!this.flying) return;
    this.flying = false;
    this.flight++;
    this.problem = problem;
    this.hooks.onChange(null);
  }

  private async fly(flight: number): Promise<void> {
    const sleep = this.hooks.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
    const now = this.hooks.now ?? (() => performance.now());
    const current = () => this.flying && this.flight === flight;
    while (current()) {
      const began = now();
      try {
        const suggestion = await this.hooks.suggest();
        if (!current()) return;
        this.hooks.onChange(suggestion);
        const going = await this.hooks.step(suggestion.action);
        if (!current()) return;
        this.steps++;
        if (!going) {
          this.stop();
          return;
        }
      } catch (err) {
        if (current()) this.stop(err instanceof Error ? err.message : String(err));
        return;
      }
      const wait = 1000 / Math.max(0.1, this.hooks.pace()) - (now() - began);
      if (wait > 0) await sleep(wait);
    }
  }
}
