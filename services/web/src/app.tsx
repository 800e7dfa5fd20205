// The frame around every page: the navigation bar and the page of the current path.

import { useEffect, useState } from "preact/hooks";
import { isMuted, onMuteChange, playSound, setMuted } from "./assets";
import { PlayPage } from "./pages/PlayPage";
import { ReplayPage } from "./pages/ReplayPage";
import { navigate, type Page, useRoute } from "./router";

const LINKS: [Page, string][] = [["replay", "Replay"], ["play", "Play"], ["analytics", "Analytics"]];

export function App() {
  const route = useRoute();
  return (
    <>
      <header class="topbar">
        <a class="brand" href="/" onClick={(e) => { e.preventDefault(); navigate("replay"); }}>
          Asteroid Belt Prospector
        </a>
        <nav aria-label="pages">
          {LINKS.map(([page, text]) => (
            <a key={page} href={page === "replay" ? "/" : `/${page}`} aria-current={route.page === page ? "page" : undefined}
               onClick={(e) => { e.preventDefault(); navigate(page); }}>{text}</a>
          ))}
        </nav>
        <MuteButton />
      </header>
      <main>
        {route.page === "replay" && <ReplayPage params={route.params} />}
        {route.page === "play" && <PlayPage params={route.params} />}
        {route.page === "analytics" && <Analytics params={route.params} />}
      </main>
    </>
  );
}

type AnalyticsModule = typeof import("./pages/AnalyticsPage");

/** The analytics page and its chart library load only when it is opened: the replay page starts sooner. */
function Analytics({ params }: { params: URLSearchParams }) {
  const [module, setModule] = useState<AnalyticsModule | null>(null);
  const [failed, setFailed] = useState<unknown>(null);
  useEffect(() => { import("./pages/AnalyticsPage").then(setModule, setFailed); }, []);
  if (failed) return <p class="problem error" role="alert">The analytics page could not be loaded: {String(failed)}</p>;
  return module ? <module.AnalyticsPage params={params} /> : <p class="loading">Loading charts…</p>;
}

/** Sound on or off, remembered (localStorage); off until the person turns it on. */
function MuteButton() {
  const [muted, setState] = useState(isMuted());
  useEffect(() => onMuteChange(() => setState(isMuted())), []);
  return (
    <button type="button" class="mute" data-testid="mute" aria-pressed={!muted}
            title={muted ? "sound is off: turn it on" : "sound is on: turn it off"}
            onClick={() => { setMuted(!muted); if (muted) playSound("ui.toggle"); }}>
      {muted ? "♪ sound off" : "♪ sound on"}
    </button>
  );
}
