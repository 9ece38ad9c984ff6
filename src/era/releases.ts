/**
 * Memoh's release history as the smoke suite sees it (memoh-current.md §1 and §5 against bridge-contract.md
 * §3–§5): every behaviour that changed between the seed (v3) and v0.18 is a rule, dated by the release that
 * brought it. An era stands for one of these releases (src/era/eras.ts); the bridge stage dates a bridge
 * between them (src/bridge/eras.ts).
 */

import { BRIDGE_IN_CONTAINER } from './paths.js';

/** Releases where something the suite can see changed; 'seed' is Memoh d5b410d7e3 (the v3 era). */
export const STEPS = [
  'seed',
  'v0.6.0',
  'v0.6.2',
  'v0.7.0',
  'v0.8.3',
  'v0.10.0',
  'v0.13.0',
  'v0.15.0',
  'v0.17.0',
  'v0.18.0',
] as const;
export type Step = (typeof STEPS)[number];

export interface Rule {
  /** The first release with the new behaviour. */
  since: Step;
  /** What changed, in the words the check details use. */
  what: string;
  /** Decided by the workspace (container spec of the judged era), not by the bridge binary. */
  by?: 'workspace';
  /** memoh-current.md gives no release for the change: only the seed (old) and v0.18 (new) are sure. */
  undated?: boolean;
}

export const RULES = {
  readfileRaw: { since: 'v0.6.0', what: 'ReadFile without line-number prefixes (7d7d0e4b5)' },
  listDirPaging: { since: 'v0.6.2', what: 'ListDir offset/limit/collapse, total_count/truncated (c1e6e0cc7)' },
  readfileLimits: { since: 'v0.7.0', what: 'ReadFile 2000 lines, no byte budget, no line cut (a40207ab6)' },
  bigMessages: { since: 'v0.7.0', what: '16 MiB messages (a40207ab6)' },
  pipesClosedOnTimeout: { since: 'v0.7.0', what: 'output pipes closed on timeout (f2fa845e1)' },
  tunnel: { since: 'v0.8.3', what: 'the Tunnel RPC (ce7bd4adf)' },
  relativeWorkDir: { since: 'v0.8.3', what: 'relative work_dir resolved under /data (c18b0ed1a)' },
  reverseHTTP: { since: 'v0.10.0', what: 'the ReverseHTTP RPC and the tools proxy (988b20c44)' },
  signalExit: { since: 'v0.10.0', what: 'exit code 128+signal instead of -1 (595218077)' },
  groupKill: { since: 'v0.10.0', what: 'timeout kills the whole process group (f6479a2b1)' },
  firstStdin: { since: 'v0.13.0', what: 'first-message stdin written in pipe mode (2b8000068)' },
  execEnvFields: { since: 'v0.15.0', what: 'ExecInput clean_env/unset_env (4597f38f0)' },
  atomicWriteFile: { since: 'v0.15.0', what: 'atomic WriteFile, always 0600 (4934f52a1)' },
  atomicWriteRaw: { since: 'v0.17.0', what: 'atomic WriteRaw, 0600, zero messages refused (7ade26bda)' },
  noSeeding: { since: 'v0.17.0', what: 'no template seeding by the bridge (bbf26b0c6)' },
  noFollow: { since: 'v0.18.0', what: 'the NoFollow RPCs (4b5cb7e64)' },
  maxEntries: { since: 'v0.18.0', what: 'ListDir max_entries (4b5cb7e64)' },
  writeRawAbort: { since: 'v0.18.0', what: 'WriteRawChunk.abort (4b5cb7e64)' },
  renameNotFound: { since: 'v0.18.0', what: 'Rename of a missing source → NOT_FOUND (cfdb36e97)' },
  noOwnReaper: {
    since: 'v0.18.0',
    what: 'no wait4(-1) reaper in the bridge: exact exit codes under concurrency (69ed9578b)',
  },
  hardStop: { since: 'v0.18.0', what: 'SIGTERM stops hard, cutting calls in flight (69ed9578b)' },
  sortedWalk: { since: 'v0.18.0', undated: true, what: 'recursive ListDir sorted by path, a bad root → NOT_FOUND' },
  hugeLineCounted: { since: 'v0.18.0', undated: true, what: 'a line of 1 MiB or more counted in total_lines' },
  // Real bridges of both eras are built with a grpc-go that serves v1 too; the v3 stand-in (Debian's grpc-go
  // 1.33) has v1alpha only, so only v0.18 insists.
  reflectionV1: { since: 'v0.18.0', undated: true, what: 'server reflection v1 besides v1alpha' },
  tini: { since: 'v0.18.0', by: 'workspace', what: 'tini as PID 1 (69ed9578b)' },
  bridgeFileMount: {
    since: 'v0.17.0',
    by: 'workspace',
    what: `only the bridge file mounted at ${BRIDGE_IN_CONTAINER} (bbf26b0c6)`,
  },
} as const satisfies Record<string, Rule>;
export type RuleName = keyof typeof RULES;
