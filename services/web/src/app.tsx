// The frame around every page: the navigation bar and the page of the current path.

import { useEffect, useState } from "preact/hooks";
import { sharedMeta } from "./api";
import { isMuted, onMuteChange, playSound, setMuted, setVolume, SOUND_GROUPS, type SoundGroup, volume } from "./assets";
import { Problem } from "./components/Problem";
import { setVocabulary, vocabularyReady } from "./game";
import { PlayPage } from "./pages/PlayPage";
import { ReplayPage } from "./pages/ReplayPage";
import { navigate, type Page, useRoute } from "./router";

const LINKS: [Page, string][] = [["replay", "Replay"], ["play", "Play"], ["analytics", "Analytics"]];

/** /api/meta, asked once: the action vocabulary every page shows (and the pretrained agent). */
const meta = sharedMeta().then((m) => { setVocabulary(m); return m; });

export function App() {
  const route = useRoute();
  const [ready, setReady] = useState(vocabularyReady());
  const [failed, setFailed] = useState<unknown>(null);
  useEffect(() => { meta.then(() => setReady(true), setFailed); }, []);
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
        <SoundControls />
      </header>
      <main>
        {/* the pages load their data meanwhile; what shows action labels waits for the vocabulary
            (vocabularyReady), and this re-renders them when it is in */}
        {failed ? <Problem error={failed} /> : <>
          {route.page === "replay" && <ReplayPage params={route.params} vocabulary={ready} />}
          {route.page === "play" && <PlayPage params={route.params} vocabulary={ready} />}
          {route.page === "analytics" && <Analytics params={route.params} />}
        </>}
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

const GROUP_TITLE: Record<SoundGroup, string> = { events: "Events", ui: "Interface" };

/** Sound on or off, and a volume for each sound group (event cues, the interface), all
 * remembered (localStorage); off until the person turns it on. */
function SoundControls() {
  const [, changed] = useState(0);
  useEffect(() => onMuteChange(() => changed((n) => n + 1)), []);
  const muted = isMuted();
  return (
    <div class="sound-controls">
      <button type="button" class="mute" data-testid="mute" aria-pressed={!muted}
              title={muted ? "sound is off: turn it on" : "sound is on: turn it off"}
              onClick={() => { setMuted(!muted); if (muted) playSound("ui.toggle"); }}>
        {muted ? "♪ sound off" : "♪ sound on"}
      </button>
      <details class="volumes">
        <summary title="volume of each kind of sound" data-testid="volume-menu">volume</summary>
        <div class="volume-panel">
          {SOUND_GROUPS.map((group) => (
            <label key={group}>{GROUP_TITLE[group]}
              <input type="range" min={0} max={100} step={5} value={Math.round(volume(group) * 100)}
                     data-testid={`volume-${group}`} aria-label={`${GROUP_TITLE[group]} volume`}
                     onInput={(e) => setVolume(group, Number(e.currentTarget.value) / 100)}
                     onChange={() => { if (group === "ui") playSound("ui.click", "ui"); }} />
              <span class="num">{Math.round(volume(group) * 100)}%</span>
            </label>
          ))}
        </div>
      </details>
    </div>
  );
}
