// Three pages on three paths; the query string carries the picks (run, replay, seed ...),
// so a URL can be shared. navigate() changes both without a reload.

import { useEffect, useState } from "preact/hooks";

export type Page = "replay" | "play" | "analytics";

export const PATHS: Record<Page, string> = { replay: "/", play: "/play", analytics: "/analytics" };

export function pageOf(pathname: string): Page {
  const path = pathname.replace(/\/+$/, "") || "/";
  if (path.endsWith("/play")) return "play";
  if (path.endsWith("/analytics")) return "analytics";
  return "replay";
}

export interface Route {
  page: Page;
  params: URLSearchParams;
}

const listeners = new Set<() => void>();

export function currentRoute(): Route {
  return { page: pageOf(location.pathname), params: new URLSearchParams(location.search) };
}

/** Go to a page with query parameters (null or "" values are left out); `replace` keeps history short. */
export function navigate(page: Page, params: Record<string, string | number | null | undefined> = {},
                         replace = false): void {
  const query = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== null && v !== undefined && v !== "") query.set(k, String(v));
  const url = PATHS[page] + (query.size ? `?${query}` : "");
  if (url === location.pathname + location.search) return;
  history[replace ? "replaceState" : "pushState"](null, "", url);
  listeners.forEach((l) => l());
}

export function useRoute(): Route {
  const [route, setRoute] = useState(currentRoute);
  useEffect(() => {
    const update = () => setRoute(currentRoute());
    listeners.add(update);
    window.addEventListener("popstate", update);
    return () => {
      listeners.delete(update);
      window.removeEventListener("popstate", update);
    };
  }, []);
  return route;
}
