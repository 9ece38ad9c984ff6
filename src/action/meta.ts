// The Action's interface: what action.yml and the README table are generated from (scripts/gen-action.mjs)
// and what test/action/docs.test.ts compares them with.
import { FIELDS, fieldPath } from '../config/schema.js';

export interface InputMeta {
  name: string;
  description: string;
  /** action.yml default: only for Action-only inputs, since a default would override the config file. */
  default?: string;
  /** `table.key` of the config setting this input sets. */
  setting?: string;
}

export const ACTION_ONLY_INPUTS: InputMeta[] = [
  { name: 'mode', description: 'What to do: run | toolkit | validate | mirror | smoke | plan', default: 'run' },
  {
    name: 'config',
    description:
      'TOML config file (ours, or a Memoh config.toml: its [container] or [workspace], [bridge_tls] and instance_id are read)',
  },
  { name: 'preset', description: 'Preset: cn (mainland-China mirrors, memoh.cn registry)' },
  { name: 'cache', description: 'Restore/save the toolkit with the Actions cache', default: 'true' },
  { name: 'registry-username', description: 'Username for the registries of mirror checks and pulls' },
  { name: 'registry-password', description: 'Password or token for registry-username (masked in logs)' },
];

export const inputs: InputMeta[] = [
  ...ACTION_ONLY_INPUTS,
  ...FIELDS.filter((f) => f.input).map((f) => ({ name: f.input!, description: f.description, setting: fieldPath(f) })),
];

export const outputs = [
  { name: 'result', description: 'success or failure' },
  { name: 'report', description: 'Path of the JSON report' },
  { name: 'junit', description: 'Path of the JUnit XML report' },
  { name: 'toolkit-path', description: 'Built toolkit directories, one per line' },
  { name: 'matrix', description: 'JSON {include: [{image, platform}]} for strategy.matrix (mode plan)' },
];

/**
 * The Marketplace listing's icon and colour. GitHub accepts a Feather icon name (v4.28.0) and one of
 * the colours in BRANDING_COLORS; anything else fails the listing, not the workflow.
 */
export const BRANDING_COLORS = [
  'white',
  'black',
  'yellow',
  'blue',
  'green',
  'orange',
  'red',
  'purple',
  'gray-dark',
] as const;
export const branding: { icon: string; color: (typeof BRANDING_COLORS)[number] } = { icon: 'box', color: 'blue' };
