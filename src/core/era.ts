/**
 * Memoh's two eras, as data chosen once and read by the stages (shared/design.md: "eras are data, not
 * branches"). `v3` is the seed architecture (shared/bridge-contract.md, Memoh d5b410d7e3); `v0.18` is
 * today's release (shared/memoh-current.md, tag v0.18.0).
 */

export type Era = 'v3' | 'v0.18';
const ERAS: readonly Era[] = ['v3', 'v0.18'];
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

/** Memoh's `[bridge_tls]` + `instance_id` (strict mTLS between server and bridge, TCP only, ≥v0.13.0). */
export interface BridgeTls {
  mode: 'disabled' | 'strict';
  /** What the server (here: our client) holds: server-client.crt, server-client.key, bridge-server-ca.crt. */
  serverDir: string;
  /** What the bridge holds, mounted read-only at /run/memoh/mtls/bridge: bridge-server.crt/.key, server-client-ca.crt. */
  bridgeDir: string;
  /** The bridge expects the client URI SAN spiffe://memoh/instance/<instanceId>/server. */
  instanceId: string;
  /** TLS authority the client expects; Memoh's default is memoh-bridge.<instanceId>.bridge.memoh.internal. */
  serverName?: string | undefined;
}

/** Where the client dials the bridge: the socket (containerd backend, v3) or a published TCP port (docker backend). */
export type BridgeTarget =
  | { kind: 'unix'; socketPath: string }
  | { kind: 'tcp'; host: string; port: number; tls?: BridgeTls | undefined };

/** What each source says about the era before anything runs; undefined: it says nothing. */
export interface EraHints {
  /** From the image: its contract file (present → v0.17/v0.18; absent → a seed-era image, or not a Memoh image). */
  image?: { era: Era; why: string; guess?: boolean } | undefined;
  /** From the bridge binary or its reflection (wire name, method count). */
  bridge?: { era: Era; why: string; guess?: boolean } | undefined;
}

/**
 * The one place the era is decided: the user's choice wins, then the image's contract file, then the bridge;
 * with nothing to go by, today's Memoh (v0.18), said to be a guess.
 */
export function judgeEra(choice: EraChoice, hints: EraHints): EraJudgement {
  if (choice !== 'auto') return { era: choice, by: 'option', why: `--memoh ${choice}`, guess: false };
  const { image, bridge } = hints;
  if (image && bridge && image.era !== bridge.era) {
    return { era: image.era, by: 'image', why: `${image.why}; but ${bridge.why}`, guess: true };
  }
  if (image) return { era: image.era, by: 'image', why: image.why, guess: Boolean(image.guess) };
  if (bridge) return { era: bridge.era, by: 'bridge', why: bridge.why, guess: Boolean(bridge.guess) };
  return { era: 'v0.18', by: 'default', why: "nothing tells the era: today's Memoh (v0.18) assumed", guess: true };
}
