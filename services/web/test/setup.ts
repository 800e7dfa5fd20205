// Before every test file: the action vocabulary as /api/meta sends it (the app loads it
// before drawing a page). The labels are the API's answer, copied from
// `GET /api/meta` -> action_labels; tests/api/test_meta_vocabulary.py pins the same ones.

import { ACTION_NAMES, setVocabulary } from "../src/game";

export const META_ACTION_LABELS = [
  "Travel 1", "Travel 2", "Travel 3", "Travel 4", "Travel 5", "Travel 6", "Hold drift", "Emergency burn",
  "Wide scan", "Focused scan", "Deep scan", "Passive threat listen", "Select asteroid 1", "Select asteroid 2",
  "Select asteroid 3", "Select asteroid 4", "Select asteroid 5", "Select asteroid 6", "Select asteroid 7",
  "Select asteroid 8", "Select asteroid 9", "Select asteroid 10", "Select asteroid 11", "Select asteroid 12",
  "Select asteroid 13", "Select asteroid 14", "Select asteroid 15", "Select asteroid 16", "Mine conservative",
  "Mine standard", "Mine aggressive", "Stabilize", "Refine onboard", "Active cooldown", "Tool maintenance",
  "Hull patch", "Jettison iron", "Jettison nickel", "Jettison water ice", "Jettison PGE", "Jettison rare isotopes",
  "Jettison volatiles", "Dock", "Sell iron 25%", "Sell iron 50%", "Sell iron 100%", "Sell nickel 25%",
  "Sell nickel 50%", "Sell nickel 100%", "Sell water ice 25%", "Sell water ice 50%", "Sell water ice 100%",
  "Sell PGE 25%", "Sell PGE 50%", "Sell PGE 100%", "Sell rare isotopes 25%", "Sell rare isotopes 50%",
  "Sell rare isotopes 100%", "Sell volatiles 25%", "Sell volatiles 50%", "Sell volatiles 100%", "Buy fuel small",
  "Buy fuel medium", "Buy fuel large", "Buy repair kit", "Buy stabilizer", "Buy decoy", "Full repair overhaul",
  "Cash out"
];

setVocabulary({ actions: ACTION_NAMES.map((name, index) => ({ index, name })), action_labels: META_ACTION_LABELS });
