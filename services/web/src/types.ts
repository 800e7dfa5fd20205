// Shapes of what the API sends (see services/api/prospector_api/schemas.py and /openapi.json).

export interface WindowRow {
  run_id: string;
  window_id: number;
  env_steps_total: number;
  checkpoint_path: string;
  metrics: Record<string, number | null | string>;
  created_at: string;
  eval_status: string | null;
  eval_error: string | null;
}

export interface Run {
  run_id: string;
  created_at: string;
  config: Record<string, unknown>;
  status: string;
  wandb_url: string | null;
  spec_version: number;
  git_sha: string;
  latest_window: WindowRow | null;
}

export interface Replay {
  replay_id: string;
  run_id: string;
  window_id: number;
  seed: number;
  return: number;
  net_profit: number;
  survival: boolean;
  length: number;
  tags: string[];
  created_at: string;
}

export interface StaticNode {
  id: number;
  type: string;
  x: number;
  y: number;
  neighbors: number[];
  travel_times: number[];
}

export interface RawNode extends StaticNode {
  visited: boolean;
  threat_estimate: number;
  hops: number;
}

export interface ReplayHeader {
  seed: number;
  env_config: Record<string, unknown>;
  policy?: Record<string, unknown>;
  summary?: { metrics?: Record<string, number>; [key: string]: unknown };
  length: number;
  graph: StaticNode[];
  initial_state: RawState;
  [key: string]: unknown;
}

export interface ReplayDetail {
  replay: Replay;
  header: ReplayHeader;
}

export interface RawAsteroid {
  slot: number;
  selected: boolean;
  composition: Record<string, number>;
  stability: number;
  depletion: number;
  confidence: number;
}

export interface RawEvents {
  names: string[];
  flags: number;
  action?: number;
  action_name?: string | null;
  applied_action?: number;
  applied_action_name?: string | null;
  dt?: number;
  travel_from?: number;
  travel_to?: number;
  scan_kind?: number;
  sale_commodity?: number;
  sale_units?: number;
  sale_revenue?: number;
  purchase_cost?: number;
  mined_units?: number;
  fracture_damage?: number;
  overheat_damage?: number;
  hazard_damage?: number;
  pirate_damage?: number;
  pirate_loss?: number;
  reward?: number;
}

/** The engine's render state (Engine.render_state()): what a frame and a play step carry. */
export interface RawState {
  t: number;
  time_remaining: number;
  time_max: number;
  done: boolean;
  terminated: boolean;
  truncated: boolean;
  seed: number;
  current_node: number;
  selected_asteroid: number;
  nodes: RawNode[];
  asteroids: RawAsteroid[];
  ship: {
    fuel: number; hull: number; heat: number; tool: number; alert: number; credits: number;
    repair_kits: number; stabilizers: number; decoys: number; escape_ticks: number;
  };
  cargo: Record<string, number>;
  refined: Record<string, number>;
  cargo_value: number;
  market: Record<string, { price: number; prev_price: number; inventory: number }>;
  action_mask: number[];
  events: RawEvents;
  metrics: Record<string, number>;
}

/** What the policy saw in its choice (evaluator replays since schema 2; bots and people have none). */
export interface PolicyInfo {
  top: [number, number][]; // [action, probability], likeliest first (after the mask when the policy masks)
  value: number | null;
  entropy: number | null;
}

export interface RawFrame {
  policy?: PolicyInfo | null;
  index: number;
  t: number;
  action: number;
  action_name: string | null;
  reward: number;
  dt: number;
  events: RawEvents;
  state: RawState;
}

export interface FramePage {
  replay_id: string;
  offset: number;
  length: number;
  frames: RawFrame[];
}

/** /api/meta's "pretrained": the served model and the run it was trained in (registered as a run
 * of its own by `prospector train --pretrained register`); older APIs send only the name. */
export interface PretrainedModel {
  name: string;
  run_id?: string | null;
  window_id?: number | null;
  env_steps?: number | null;
}

export interface MetaAction { index: number; name: string; group: string }

export interface Meta {
  spec_version: number;
  n_actions: number;
  actions: MetaAction[];
  action_groups: Record<string, number[]>;
  commodities: string[];
  node_types: string[];
  event_names: string[];
  metric_names: string[];
  env_config_default: Record<string, unknown>;
  /** the actions as people read them, by index ("Travel 1" is TRAVEL_0, on key 1) */
  action_labels: string[];
  /** the pretrained agent that can suggest actions on /play (null: none on this server) */
  pretrained?: PretrainedModel | null;
}

export interface Session {
  session_id: string;
  seed: number;
  config: Record<string, unknown>;
  expires_at: number;
  t: number;
  terminated: boolean;
  truncated: boolean;
  state: RawState | null;
  action_mask: boolean[];
}

export interface StepResult {
  session_id: string;
  action: number;
  reward: number;
  terminated: boolean;
  truncated: boolean;
  t: number;
  state: RawState | null;
  info: { events: RawEvents; episode: Record<string, number> | null } | null;
  action_mask: boolean[];
}

export interface ReplayAnnouncement { run_id: string; window_id: number; replay_id: string; tags: string[] }
export interface WindowAnnouncement { run_id: string; window_id: number; env_steps: number; metrics: Record<string, unknown> }

/** GET /api/progress: the services' own status (see services/api/prospector_api/routers/progress.py). */
export interface Progress {
  time: number;
  trainer: { reachable: boolean; state?: string; run_id?: string; env_steps?: string | number; sps?: number;
             current_window?: string | number; windows_done?: string | number; error?: string };
  evaluator: { reachable: boolean; state?: string; current_run_id?: string; current_window?: string | number | null;
               queue_lag?: string | number; windows_done?: string | number };
  window: { run_id: string; window_id: number; env_steps: number; window_env_steps: number | null;
            fraction: number | null; sps: number; eta_s: number | null } | null;
}
