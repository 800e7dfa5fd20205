import { ApiError } from "../api";

/** A problem the page cannot get past: the API is down, or there is nothing to show yet. */
export function Problem({ error, empty }: { error?: unknown; empty?: string }) {
  if (error) {
    const down = error instanceof ApiError && error.unreachable;
    return (
      <div class="problem error" role="alert" data-testid="api-error">
        <strong>{down ? "The API is not reachable." : "The API answered with an error."}</strong>
        <p>{error instanceof Error ? error.message : String(error)}</p>
        {down && <p class="muted">Start it with <code>prospector api</code> (or <code>make up</code>), then try again.</p>}
        <button type="button" onClick={() => location.reload()}>Try again</button>
      </div>
    );
  }
  return <div class="problem" role="status" data-testid="empty-state">{empty}</div>;
}
