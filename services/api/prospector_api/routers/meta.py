"""The game's vocabulary: actions and groups, observation layout, commodities, spec version."""

from __future__ import annotations

from fastapi import APIRouter
from prospector import spec

from ..schemas import ActionOut, Meta

router = APIRouter(tags=["meta"])


def _span(s: slice) -> list[int]:
    return [s.start, s.stop]


def build_meta() -> Meta:
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
    return Meta(
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
    )


_META = build_meta()


@router.get("/api/meta", response_model=Meta, summary="Action names and groups, observation layout, commodities")
def get_meta() -> Meta:
    return _META
