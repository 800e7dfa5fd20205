"""The game's vocabulary: actions and groups, observation layout, commodities, spec version.

`action_labels` are the actions as people read them, the one vocabulary of the page
(buttons, key help, the current action, replay events, the policy panel). Slots count
from 1 there, as the page's number keys do: action 0 (TRAVEL_0, neighbor slot 0) is
"Travel 1" on key 1, and SELECT_ASTEROID_0 is "Select asteroid 1". `name` stays the
contract's (SPEC.md), 0-based like the action indices.

`pretrained` is the model of /api/play/sessions/{id}/suggest, or null: its name and where it
came from (the run and window it was trained in, from its file's header), so the page can tell
the pretrained agent's run (`prospector train --pretrained register`) from the others.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import Field
from prospector import spec

from ..pretrained import Pretrained
from ..schemas import ActionOut, Meta, PretrainedOut

router = APIRouter(tags=["meta"])

SLOT_BASE = 1  # people count neighbor and asteroid slots from 1 (the keys 1..6 travel to slots 0..5)
_COMMODITY_WORDS = {"pge": "PGE"}


class PretrainedMetaOut(PretrainedOut):
    run_id: str | None = Field(default=None, description="the run the model was trained in (its registered run)")
    window_id: int | None = Field(default=None, description="the training window of its checkpoint")
    env_steps: int | None = Field(default=None, description="env steps of training behind it")


class MetaOut(Meta):
    action_labels: list[str]  # by action index: "Travel 1", "Select asteroid 3", "Sell PGE 25%", "Hold drift"
    pretrained: PretrainedMetaOut | None = Field(
        default=None, description="the model that answers /api/play/sessions/{id}/suggest and the run it came "
                                  "from; null when none is served")


def _commodity(c: int) -> str:
    name = spec.COMMODITIES[c]
    return _COMMODITY_WORDS.get(name, name.replace("_", " "))


def action_label(index: int) -> str:
    """The action as people read it (see the module doc): slots from SLOT_BASE, words not codes."""
    if spec.A_TRAVEL0 <= index < spec.A_TRAVEL0 + spec.MAX_NEIGHBORS:
        return f"Travel {index - spec.A_TRAVEL0 + SLOT_BASE}"
    if spec.A_SELECT0 <= index < spec.A_SELECT0 + spec.MAX_ASTEROIDS:
        return f"Select asteroid {index - spec.A_SELECT0 + SLOT_BASE}"
    if spec.A_JETTISON0 <= index < spec.A_JETTISON0 + spec.N_COMMODITIES:
        return f"Jettison {_commodity(index - spec.A_JETTISON0)}"
    if spec.A_SELL0 <= index < spec.A_SELL0 + 3 * spec.N_COMMODITIES:
        c, b = divmod(index - spec.A_SELL0, 3)
        return f"Sell {_commodity(c)} {spec.SELL_BUCKETS[b]}%"
    words = spec.ACTION_NAMES[index].lower().replace("_", " ")
    return words[0].upper() + words[1:]


def _span(s: slice) -> list[int]:
    return [s.start, s.stop]


def build_meta() -> MetaOut:
    layout = {
        "sections": {"ship": _span(spec.OBS_SHIP), "neighbors": _span(spec.OBS_NEIGHBORS),
                     "asteroids": _span(spec.OBS_ASTEROIDS), "market": _span(spec.OBS_MARKET)},
        "ship": {"fuel": spec.OBS_FUEL, "hull": spec.OBS_HULL, "heat": spec.OBS_HEAT, "tool": spec.OBS_TOOL,
                 "cargo_total": spec.OBS_CARGO_TOTAL, "alert": spec.OBS_ALERT,
                 "time_remaining": spec.OBS_TIME_REMAINING, "credits": spec.OBS_CREDITS,
                 "cargo": _span(spec.OBS_CARGO), "repair_kits": spec.OBS_REPAIR_KITS,
                 "stabilizers": spec.OBS_STABILIZERS, "decoys": spec.OBS_DECOYS,
                 "at_station": spec.OBS_AT_STATION, "has_selection": spec.OBS_HAS_SELECTION,
                 "node_type": _span(spec.OBS_NODE_TYPE), "node_index": spec.OBS_NODE_INDEX,
                 "hops_to_station": spec.OBS_HOPS_TO_STATION},
        "neighbor": {"base": spec.NEIGHBOR_BASE, "stride": spec.NEIGHBOR_STRIDE, "count": spec.MAX_NEIGHBORS,
                     "fields": {"valid": spec.NB_VALID, "type": _span(spec.NB_TYPE),
                                "travel_time": spec.NB_TRAVEL_TIME, "fuel_cost": spec.NB_FUEL_COST,
                                "threat": spec.NB_THREAT}},
        "asteroid": {"base": spec.ASTEROID_BASE, "stride": spec.ASTEROID_STRIDE, "count": spec.MAX_ASTEROIDS,
                     "fields": {"valid": spec.AST_VALID, "composition": _span(spec.AST_COMPOSITION),
                                "stability": spec.AST_STABILITY, "depletion": spec.AST_DEPLETION,
                                "confidence": spec.AST_CONFIDENCE, "selected": spec.AST_SELECTED}},
        "market": {"price": _span(spec.OBS_PRICE), "price_change": _span(spec.OBS_PRICE_CHANGE),
                   "inventory": _span(spec.OBS_INVENTORY),
                   "inventory_commodities": [spec.COMMODITIES[c] for c in spec.OBS_INVENTORY_COMMODITIES]},
    }
    return MetaOut(
        spec_version=spec.SPEC_VERSION,
        n_actions=spec.N_ACTIONS,
        obs_dim=spec.OBS_DIM,
        actions=[ActionOut(index=i, name=name, group=spec.ACTION_GROUP_OF[i])
                 for i, name in enumerate(spec.ACTION_NAMES)],
        action_groups={group: list(actions) for group, actions in spec.ACTION_GROUPS.items()},
        observation_layout=layout,
        commodities=list(spec.COMMODITIES),
        node_types=list(spec.NODE_TYPES),
        event_names=list(spec.EVENT_NAMES),
        metric_names=list(spec.METRIC_NAMES),
        env_config_default=spec.EnvConfig().to_dict(),
        action_labels=[action_label(i) for i in range(spec.N_ACTIONS)],
    )


_META = build_meta()


@router.get("/api/meta", response_model=MetaOut,
            summary="Action names, labels and groups, observation layout, commodities")
def get_meta(request: Request) -> MetaOut:
    return _META.model_copy(update={"pretrained": pretrained_meta(request.app.state.resources.pretrained)})


def pretrained_meta(model: Pretrained) -> PretrainedMetaOut | None:
    """The "pretrained" of /api/meta: the served model's name, and its run_id, window_id and
    env_steps from its file's header (null where the header lacks them); None when none is served."""
    out = model.meta()
    if out is None:
        return None
    header = model.policy.header

    def whole(key: str) -> int | None:
        value = header.get(key)
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    run_id = header.get("run_id")
    return PretrainedMetaOut(**out.model_dump(), run_id=run_id if isinstance(run_id, str) else None,
                             window_id=whole("window_id"), env_steps=whole("env_steps"))
