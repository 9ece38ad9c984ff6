/**
 * Memoh's two eras, as data chosen once and read by the stages (shared/design.md: "eras are data, not
 * branches"). `v3` is the seed architecture (shared/bridge-contract.md, Memoh d5b410d7e3); `v0.18` is
 * today's release (shared/memoh-current.md, tag v0.18.0).
 */
import { InputError } from './errors.js';

export type Era = 'v3' | 'v0.18';
export const ERAS: readonly Era[] = ['v3', 'v0.18'];
export type EraChoice = 'auto' | Era;
export const ERA_CHOICES: readonly EraChoice[] = ['auto', ...ERAS];

/** Where Memoh runs the workspace: containerd (the compose deployment's default) or the Docker backend (≥v0.8.3). */
export type Backend = 'containerd' | 'docker';
export const BACKENDS: readonly Backend[] = ['containerd', 'docker'];

/**
 * Which era a run was judged by, and why: shown in the text report and in JSON as `"memoh": "v0.18"`.
 * `guess` is true when nothing decided it for certain (e.g. a bridge between the eras, v0.6–v0.17).
 */
export interface EraJudgement {
  era: Era;
  /** What decided it: the user's --memoh, the image's contract file, the bridge's reflection, or the default. */
  by: 'option' | 'image' | 'bridge' | 'default';
  why: string;
  guess: boolean;
}

export function parseEraChoice(value: string, origin = 'memoh'): EraChoice {
  if ((ERA_CHOICES as readonly string[]).includes(value)) return value as EraChoice;
  throw new InputError(origin, `"${value}" is not a Memoh era`, `use one of ${ERA_CHOICES.join(', ')}`);
}
