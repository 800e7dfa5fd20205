"""Pictures of a game state, drawn from Engine.render_state() with numpy alone.

    text = render_text(engine.render_state())     # a compact text view (render_mode "ansi")
    img = render_rgb(engine.render_state())       # uint8 [HEIGHT, WIDTH, 3] (render_mode "rgb_array")

Both take the render state dict only (as the engine gives it, or as a replay
file stores it frame by frame), so a replay is drawn exactly as a live game.

The image (WIDTH x HEIGHT = 400 x 272): on the left the sector map, nodes at
their (x, y) in 0..255 (station green, cluster blue-grey, hazard red; a dim
node is unvisited, the red ring's brightness its threat estimate), the lanes between them,
the ship as a yellow ring and dot on its node. On the right, top to bottom: the
time and credits as digits; bars for fuel, hull, heat, tool wear, alert and
time remaining; the cargo hold, one colour per commodity; the market, one bar
per commodity (log price; a lighter tip when it rose); and the field view, the
asteroids known at the ship's node (up to 16 cells: colour of the richest
commodity, size shrinking with depletion, brightness the scan confidence,
white frame: the selected one). The frame's border is red once the ship is
destroyed or stranded, white after a cash-out, grey when the time ran out.
"""

from __future__ import annotations

import math

import numpy as np

from prospector import spec

WIDTH, HEIGHT = 400, 272
MAP = 272           # the map's square on the left: 8 px margin + 256 px
PANEL_X = 282       # the right panel's left edge
PANEL_W = WIDTH - PANEL_X - 8

BACKGROUND = (12, 14, 24)
LANE = (60, 66, 90)
NODE_COLORS = {"station": (70, 200, 90), "cluster": (120, 140, 180), "hazard": (210, 70, 60)}
SHIP = (250, 220, 60)
TEXT = (230, 230, 230)
BAR_BACK = (40, 44, 60)
BAR_COLORS = {"fuel": (240, 150, 40), "hull": (80, 200, 100), "heat": (230, 70, 50), "tool": (70, 200, 220),
              "alert": (210, 80, 210), "time": (200, 200, 200)}
COMMODITY_COLORS = ((160, 160, 170), (110, 170, 120), (120, 190, 250), (250, 200, 80), (220, 90, 220),
                    (250, 120, 90))  # spec.COMMODITIES order
END_COLORS = {"destroyed": (230, 50, 50), "stranded": (230, 50, 50), "cash_out": (240, 240, 240),
              "time_up": (130, 130, 130)}

# A 3 x 5 font for the readouts: digits and the few other characters they use.
_GLYPHS = {
    "0": "111101101101111", "1": "010110010010111", "2": "111001111100111", "3": "111001111001111",
    "4": "101101111001001", "5": "111100111001111", "6": "111100111101111", "7": "111001001001001",
    "8": "111101111101111", "9": "111101111001111", "-": "000000111000000", ".": "000000000000010",
    "/": "001001010100100", " ": "000000000000000", "T": "111010010010010", "C": "111100100100111",
}
_FONT = {ch: np.array([int(b) for b in bits], dtype=bool).reshape(5, 3) for ch, bits in _GLYPHS.items()}


# ---- drawing primitives (in place, clipped to the image) ---------------------------------------


def _color(c) -> np.ndarray:
    return np.asarray(c, dtype=np.uint8)


def fill_rect(img: np.ndarray, x0: int, y0: int, x1: int, y1: int, color) -> None:
    """Pixels x0 <= x < x1, y0 <= y < y1."""
    h, w = img.shape[:2]
    x0, x1, y0, y1 = max(0, int(x0)), min(w, int(x1)), max(0, int(y0)), min(h, int(y1))
    if x0 < x1 and y0 < y1:
        img[y0:y1, x0:x1] = _color(color)


def frame_rect(img: np.ndarray, x0: int, y0: int, x1: int, y1: int, color, width: int = 1) -> None:
    fill_rect(img, x0, y0, x1, y0 + width, color)
    fill_rect(img, x0, y1 - width, x1, y1, color)
    fill_rect(img, x0, y0, x0 + width, y1, color)
    fill_rect(img, x1 - width, y0, x1, y1, color)


def disc(img: np.ndarray, cx: float, cy: float, r: float, color, inner: float = -1.0) -> None:
    """A filled circle of radius r, or a ring (inner < distance <= r) when inner >= 0."""
    h, w = img.shape[:2]
    x0, x1 = max(0, int(math.floor(cx - r))), min(w, int(math.ceil(cx + r)) + 1)
    y0, y1 = max(0, int(math.floor(cy - r))), min(h, int(math.ceil(cy + r)) + 1)
    if x0 >= x1 or y0 >= y1:
        return
    yy, xx = np.ogrid[y0:y1, x0:x1]
    d2 = (xx - cx) ** 2 + (yy - cy) ** 2
    mask = d2 <= r * r
    if inner >= 0:
        mask &= d2 > inner * inner
    img[y0:y1, x0:x1][mask] = _color(color)


def line(img: np.ndarray, x0: float, y0: float, x1: float, y1: float, color) -> None:
    """A one-pixel line, sampled at every pixel step along its longer axis."""
    n = int(max(abs(x1 - x0), abs(y1 - y0))) + 1
    xs = np.rint(np.linspace(x0, x1, n)).astype(np.intp)
    ys = np.rint(np.linspace(y0, y1, n)).astype(np.intp)
    h, w = img.shape[:2]
    ok = (xs >= 0) & (xs < w) & (ys >= 0) & (ys < h)
    img[ys[ok], xs[ok]] = _color(color)


def text(img: np.ndarray, x: int, y: int, s: str, color=TEXT, scale: int = 1) -> None:
    """s in the 3 x 5 font (digits, - . / space T C; other characters are skipped)."""
    for ch in s.upper():
        glyph = _FONT.get(ch)
        if glyph is not None:
            g = np.kron(glyph, np.ones((scale, scale), dtype=bool)) if scale > 1 else glyph
            h, w = img.shape[:2]
            gh, gw = g.shape
            if 0 <= x and x + gw <= w and 0 <= y and y + gh <= h:
                img[y:y + gh, x:x + gw][g] = _color(color)
        x += 4 * scale


def bar(img: np.ndarray, x: int, y: int, w: int, h: int, frac: float, color) -> None:
    """A horizontal gauge: frac (clipped to 0..1) of w filled."""
    fill_rect(img, x, y, x + w, y + h, BAR_BACK)
    frac = 0.0 if not math.isfinite(frac) else min(1.0, max(0.0, frac))
    fill_rect(img, x, y, x + int(round(w * frac)), y + h, color)


def _scaled(color, k: float) -> tuple[int, int, int]:
    return tuple(int(min(255, max(0, round(c * k)))) for c in color)


# ---- the views ------------------------------------------------------------------------------------


def _node_xy(node: dict) -> tuple[float, float]:
    return 8 + float(node["x"]), 8 + float(node["y"])


def draw_map(img: np.ndarray, state: dict) -> None:
    nodes = state["nodes"]
    for node in nodes:  # lanes first, under the nodes
        x0, y0 = _node_xy(node)
        for j in node["neighbors"]:
            if j > node["id"] and j < len(nodes):
                x1, y1 = _node_xy(nodes[j])
                line(img, x0, y0, x1, y1, LANE)
    for node in nodes:
        x, y = _node_xy(node)
        color = NODE_COLORS.get(node["type"], TEXT)
        threat = float(node.get("threat_estimate", 0.0))
        if threat > 0.0:  # the prior is 0.25: a dim ring; brighter as the estimate rises
            disc(img, x, y, 8.5, _scaled((230, 60, 60), 0.15 + 0.85 * min(1.0, threat)), inner=6.5)
        disc(img, x, y, 5.5 if node["type"] == "station" else 4.5, color if node["visited"] else _scaled(color, 0.45))
    cur = state.get("current_node", -1)
    if 0 <= cur < len(nodes):
        x, y = _node_xy(nodes[cur])
        disc(img, x, y, 11.5, SHIP, inner=9.5)
        disc(img, x, y, 2.5, SHIP)


def draw_panel(img: np.ndarray, state: dict) -> None:
    x, w = PANEL_X, PANEL_W
    ship = state["ship"]
    text(img, x, 8, f"T {state['t']}", scale=2)
    text(img, x, 22, f"C {int(round(ship['credits']))}", SHIP, scale=2)
    y = 38
    time_max = max(1, state.get("time_max", 1))
    gauges = (("fuel", ship["fuel"] / spec.FUEL_MAX), ("hull", ship["hull"] / spec.HULL_MAX),
              ("heat", ship["heat"] / spec.HEAT_MAX), ("tool", ship["tool"] / spec.TOOL_MAX),
              ("alert", ship["alert"] / spec.ALERT_MAX), ("time", state["time_remaining"] / time_max))
    for name, frac in gauges:
        bar(img, x, y, w, 6, frac, BAR_COLORS[name])
        y += 9
    # cargo hold: one segment per commodity
    y += 3
    fill_rect(img, x, y, x + w, y + 10, BAR_BACK)
    left = float(x)
    for c, name in enumerate(spec.COMMODITIES):
        units = float(state["cargo"].get(name, 0.0)) + float(state.get("refined", {}).get(name, 0.0))
        seg = w * max(0.0, units) / spec.CARGO_MAX
        fill_rect(img, int(round(left)), y, int(round(min(x + w, left + seg))), y + 10, COMMODITY_COLORS[c])
        left += seg
    y += 16
    # market: log price bars, bottom-aligned
    market, col_w, height = state["market"], w // spec.N_COMMODITIES, 30
    for c, name in enumerate(spec.COMMODITIES):
        m = market.get(name, {})
        price, prev = float(m.get("price", 0.0)), float(m.get("prev_price", 0.0))
        frac = min(1.0, max(0.0, math.log1p(max(price, 0.0)) / math.log1p(400.0)))
        bh = max(1, int(round(height * frac)))
        bx = x + c * col_w
        fill_rect(img, bx + 1, y + height - bh, bx + col_w - 1, y + height, COMMODITY_COLORS[c])
        if price > prev:
            fill_rect(img, bx + 1, y + height - bh, bx + col_w - 1, y + height - bh + 2, TEXT)
    y += height + 8
    draw_field(img, state, x, y, w)


def draw_field(img: np.ndarray, state: dict, x: int, y: int, w: int) -> None:
    """The asteroids at the ship's node: a 4 x 4 grid of cells, one per slot."""
    cell = w // 4
    frame_rect(img, x, y, x + 4 * cell, y + 4 * cell, BAR_BACK)
    for a in state.get("asteroids", ()):
        slot = int(a["slot"])
        cx, cy = x + (slot % 4) * cell, y + (slot // 4) * cell
        comp = [float(a["composition"].get(name, 0.0)) for name in spec.COMMODITIES]
        best = int(np.argmax(comp)) if any(comp) else 0
        conf = min(1.0, max(0.0, float(a.get("confidence", 1.0))))
        r = (cell / 2 - 3) * (1.0 - 0.7 * min(1.0, max(0.0, float(a.get("depletion", 0.0))))) + 1
        disc(img, cx + cell / 2, cy + cell / 2, r, _scaled(COMMODITY_COLORS[best], 0.35 + 0.65 * conf))
        if a.get("selected"):
            frame_rect(img, cx + 1, cy + 1, cx + cell - 1, cy + cell - 1, TEXT)


def _end_color(state: dict):
    if not state.get("done"):
        return None
    names = set(state.get("events", {}).get("names", ()))
    for name in ("destroyed", "stranded", "cash_out", "time_up"):
        if name in names:
            return END_COLORS[name]
    return END_COLORS["time_up"] if state.get("truncated") else END_COLORS["destroyed"]


def render_rgb(state: dict) -> np.ndarray:
    """The picture of a render state: uint8 [HEIGHT, WIDTH, 3] (see the module docstring)."""
    img = np.empty((HEIGHT, WIDTH, 3), dtype=np.uint8)
    img[:] = _color(BACKGROUND)
    draw_map(img, state)
    draw_panel(img, state)
    end = _end_color(state)
    if end is not None:
        frame_rect(img, 0, 0, WIDTH, HEIGHT, end, width=3)
    return img


# ---- text -------------------------------------------------------------------------------------


def render_text(state: dict) -> str:
    """A compact text view of a render state: ship, node and neighbors, asteroids, cargo, market."""
    ship, nodes = state["ship"], state["nodes"]
    cur = state.get("current_node", -1)
    node = nodes[cur] if 0 <= cur < len(nodes) else None
    status = ""
    if state.get("done"):
        status = "  [terminated]" if state.get("terminated") else "  [truncated]"
    lines = [
        f"t {state['t']}/{state['time_max']} (left {state['time_remaining']})  seed {state.get('seed')}{status}",
        f"ship  credits {ship['credits']:.0f}  fuel {ship['fuel']:.0f}  hull {ship['hull']:.0f}  "
        f"heat {ship['heat']:.0f}  tool {ship['tool']:.0f}  alert {ship['alert']:.0f}  "
        f"kits {ship['repair_kits']}  stab {ship['stabilizers']}  decoys {ship['decoys']}",
    ]
    if node is not None:
        lines.append(f"node  {cur} {node['type']}  hops to station {node['hops']}  "
                     f"threat {node['threat_estimate']:.2f}")
        nbs = []
        for k, (j, tt) in enumerate(zip(node["neighbors"], node["travel_times"])):
            other = nodes[j] if 0 <= j < len(nodes) else {}
            seen = "" if other.get("visited") else "?"
            nbs.append(f"[{k}] {j} {other.get('type', '?')}{seen} {tt}t")
        lines.append("lanes " + ("  ".join(nbs) if nbs else "none"))
    asteroids = state.get("asteroids", [])
    if asteroids:
        parts = []
        for a in asteroids:
            best = max(a["composition"].items(), key=lambda kv: kv[1])
            mark = "*" if a.get("selected") else ""
            parts.append(f"{mark}{a['slot']}:{best[0]} {best[1]:.2f} dep {a['depletion']:.2f}")
        lines.append("field " + "  ".join(parts))
    cargo = {k: v + state.get("refined", {}).get(k, 0.0) for k, v in state["cargo"].items()}
    held = "  ".join(f"{k} {v:.1f}" for k, v in cargo.items() if v > 0) or "empty"
    lines.append(f"cargo {held}  (value {state.get('cargo_value', 0.0):.0f}, "
                 f"{sum(cargo.values()):.0f}/{spec.CARGO_MAX:.0f})")
    lines.append("market " + "  ".join(
        f"{name} {m['price']:.1f}{'+' if m['price'] > m['prev_price'] else '-' if m['price'] < m['prev_price'] else ''}"
        for name, m in state["market"].items()))
    events = state.get("events", {})
    if events.get("action_name") or events.get("names"):
        lines.append(f"last  {events.get('action_name')}: {', '.join(events.get('names', [])) or '-'}")
    return "\n".join(lines) + "\n"
