import { posix } from 'node:path';
import {
  CONTRACT_PATH,
  CONTRACT_READ_LIMIT,
  type ContractRead,
  type ContractRule,
  type ContractVerdict,
  type ExecutableStat,
  evaluateContract,
} from '../image/contract.js';
import { expect, expectEqual, fail } from './assert.js';
import { BridgeCallError, type BridgeClient } from './client.js';
import type { CheckSpec, CheckTools, CustomCheck, Outcome } from './runner.js';

/**
 * What Memoh v0.18 does once a workspace's bridge answers (memoh-current.md §3): it applies the workspace
 * contract through the bridge (ReadRaw the file, Stat each executable) and, if the image passes, bootstraps
 * the templates over RPC. The rules are src/image/contract.ts, the same ones `validate` applies to the image
 * at rest; here they run against the live container, as Memoh runs them.
 */

/** Check ids, in the order they run. */
export const CONTRACT_SUITE_IDS = [
  'contract.file',
  'contract.version',
  'contract.platform',
  'contract.paths',
  'contract.executables',
  'bootstrap.templates',
  'bootstrap.identity',
  'bootstrap.reconcile',
] as const;

const ID_OF: Record<ContractRule, (typeof CONTRACT_SUITE_IDS)[number]> = {
  contract: 'contract.file',
  'contract-version': 'contract.version',
  'contract-platform': 'contract.platform',
  'contract-paths': 'contract.paths',
  'contract-executables': 'contract.executables',
};

/** Our own template set, named like Memoh's `templates/workspace` tree (the texts are ours). */
export const TEMPLATES: readonly { path: string; content: string }[] = [
  { path: '.memoh/hooks.json', content: '{\n  "hooks": []\n}\n' },
  {
    path: '.memoh/skills/hooks-setup/SKILL.md',
    content: '# hooks-setup\n\nSmoke-test skill: how hooks are set up in this workspace.\n',
  },
  {
    path: '.memoh/skills/skill-creator/SKILL.md',
    content: '# skill-creator\n\nSmoke-test skill: how to write a new skill.\n',
  },
  {
    path: 'AGENTS.md',
    content: "# Agents\n\nWritten by the memoh-workspace smoke suite, replaying Memoh's bootstrap.\n",
  },
  { path: 'HEARTBEAT.md', content: '# Heartbeat\n' },
  { path: 'MEMORY.md', content: '# Memory\n' },
  { path: 'PROFILES.md', content: '# Profiles\n' },
];

/** Files Memoh owns and rewrites on every reconcile; the rest are created once and then left to the bot. */
const isManaged = (path: string): boolean => path.startsWith('.memoh/skills/');

interface BootstrapLog {
  renamedIdentity: boolean;
  written: string[];
  /** Create-only files that existed already, left alone. */
  kept: string[];
}

/**
 * Memoh's template bootstrap, call by call, into `root` (Memoh's is /data): Mkdir the root; IDENTITY.md →
 * AGENTS.md when only the former exists; then per template file Mkdir its parent and WriteFile it, after a Stat
 * for create-only files (skipped if present). Walk order is Go's fs.WalkDir: names sorted, depth first.
 */
export async function bootstrapTemplates(
  client: BridgeClient,
  root: string,
  templates = TEMPLATES,
): Promise<BootstrapLog> {
  const log: BootstrapLog = { renamedIdentity: false, written: [], kept: [] };
  await client.mkdir(root);
  const agents = posix.join(root, 'AGENTS.md');
  const identity = posix.join(root, 'IDENTITY.md');
  if ((await statOrMissing(client, agents)) === undefined) {
    const id = await statOrMissing(client, identity);
    if (id && !id.isDir) {
      await client.rename(identity, agents);
      log.renamedIdentity = true;
    }
  }
  for (const t of [...templates].sort((a, b) => walkOrder(a.path, b.path))) {
    const target = posix.join(root, t.path);
    await client.mkdir(posix.dirname(target));
    if (!isManaged(t.path) && (await statOrMissing(client, target)) !== undefined) {
      log.kept.push(t.path);
      continue;
    }
    await client.writeFile(target, t.content);
    log.written.push(t.path);
  }
  return log;
}

/** fs.WalkDir order: component by component, byte order of names (so `.memoh/…` comes before `AGENTS.md`). */
function walkOrder(a: string, b: string): number {
  const pa = a.split('/');
  const pb = b.split('/');
  for (let i = 0; i < Math.min(pa.length, pb.length); i++) {
    if (pa[i] !== pb[i]) {
      // A directory's walk holds all its entries: compare the names at the first difference.
      return Buffer.compare(Buffer.from(pa[i]!), Buffer.from(pb[i]!));
    }
  }
  return pa.length - pb.length;
}

async function statOrMissing(client: BridgeClient, path: string) {
  try {
    return await client.stat(path);
  } catch (err) {
    if (err instanceof BridgeCallError && err.codeName === 'NOT_FOUND') return undefined;
    throw err;
  }
}

/** Go's codes.Code names, for Memoh's `grpc <Code>: …` wrapping. */
const GO_CODE: Record<string, string> = {
  CANCELLED: 'Canceled',
  UNKNOWN: 'Unknown',
  DEADLINE_EXCEEDED: 'DeadlineExceeded',
  ALREADY_EXISTS: 'AlreadyExists',
  PERMISSION_DENIED: 'PermissionDenied',
  RESOURCE_EXHAUSTED: 'ResourceExhausted',
  FAILED_PRECONDITION: 'FailedPrecondition',
  ABORTED: 'Aborted',
  OUT_OF_RANGE: 'OutOfRange',
  UNIMPLEMENTED: 'Unimplemented',
  INTERNAL: 'Internal',
  DATA_LOSS: 'DataLoss',
  UNAUTHENTICATED: 'Unauthenticated',
};

/** A bridge error as Memoh's client wraps it (internal/workspace/bridge/errors.go@v0.18.0). */
export function memohBridgeError(err: BridgeCallError): string {
  const prefix: Record<string, string> = {
    NOT_FOUND: 'not found',
    INVALID_ARGUMENT: 'invalid argument',
    UNAVAILABLE: 'unavailable',
  };
  return `${prefix[err.codeName] ?? `grpc ${GO_CODE[err.codeName] ?? err.codeName}`}: ${err.details}`;
}

/** Well past Memoh's 64 KiB: enough to see a cut, bounded so a huge file cannot hold the check. */
const READ_CAP = 4 * 1024 * 1024;

/** The contract's reader and stat, over the bridge: ReadRaw and Stat (which follows links), as Memoh calls them. */
function bridgeContractSource(client: BridgeClient) {
  return {
    async read(): Promise<ContractRead> {
      try {
        const bytes = Buffer.concat(await client.readRaw(CONTRACT_PATH, { maxBytes: READ_CAP }));
        return { ok: true, bytes };
      } catch (err) {
        if (err instanceof BridgeCallError)
          return { ok: false, missing: err.codeName === 'NOT_FOUND', error: memohBridgeError(err) };
        if (err instanceof Error && /more than \d+ bytes/.test(err.message)) {
          // Memoh would decode the first 64 KiB of it; a document that long cannot end inside them as JSON we accept.
          return {
            ok: false,
            missing: false,
            error: `the file is over ${READ_CAP} bytes; Memoh reads only its first ${CONTRACT_READ_LIMIT}`,
          };
        }
        throw err;
      }
    },
    async stat(path: string): Promise<ExecutableStat> {
      try {
        const e = await client.stat(path);
        return { ok: true, isDir: e.isDir, mode: e.mode };
      } catch (err) {
        if (err instanceof BridgeCallError)
          return { ok: false, missing: err.codeName === 'NOT_FOUND', error: memohBridgeError(err) };
        throw err;
      }
    },
  };
}

interface ContractSuiteOptions {
  /** Where the bootstrap replay writes, as Memoh does: /data (default). */
  dataDir?: string;
}

const custom = (
  id: string,
  run: (t: CheckTools) => Promise<Outcome>,
  extra: Partial<CustomCheck> = {},
): CustomCheck => ({ kind: 'custom', id, run, ...extra });

/**
 * The v0.18 suite's contract and bootstrap checks (CheckSpecs for src/bridge/runner.ts). The five contract
 * checks share one evaluation, made by the first of them to run; as in Memoh, the first failing rule stops the
 * rest (they are skipped with the reason) and the bootstrap is not replayed on an image Memoh refuses.
 * `bootstrap.templates` writes into /data as Memoh does; the other two work in the suite's own directory.
 */
export function workspaceContractChecks(opts: ContractSuiteOptions = {}): CheckSpec[] {
  const dataDir = opts.dataDir ?? '/data';
  let verdict: Promise<ContractVerdict> | undefined;
  const judge = (t: CheckTools): Promise<ContractVerdict> =>
    (verdict ??= evaluateContract(bridgeContractSource(t.client)));
  const refused = async (t: CheckTools): Promise<string | undefined> => (await judge(t)).memoh;

  const rule = (r: ContractRule): CheckSpec =>
    custom(ID_OF[r], async (t) => {
      const o = (await judge(t)).outcomes.find((x) => x.rule === r)!;
      return { status: o.status, detail: o.detail, ...(o.fix ? { fix: o.fix } : {}) };
    });

  const skipIfRefused = async (t: CheckTools): Promise<Outcome | undefined> => {
    const memoh = await refused(t);
    return memoh
      ? { status: 'skip', detail: `not replayed: Memoh skips the bootstrap of an image it refuses (${memoh})` }
      : undefined;
  };

  return [
    rule('contract'),
    rule('contract-version'),
    rule('contract-platform'),
    rule('contract-paths'),
    rule('contract-executables'),

    bootstrapTemplatesCheck(dataDir, skipIfRefused),
    bootstrapIdentityCheck(skipIfRefused),
    bootstrapReconcileCheck(skipIfRefused),
  ];
}

/** Memoh's answer to an image it refuses: the bootstrap is not replayed (undefined: go on). */
type SkipIfRefused = (t: CheckTools) => Promise<Outcome | undefined>;

function bootstrapTemplatesCheck(dataDir: string, skipIfRefused: SkipIfRefused): CheckSpec {
  return custom('bootstrap.templates', async (t) => {
    const skip = await skipIfRefused(t);
    if (skip) return skip;
    const { client } = t;
    const log = await bootstrapTemplates(client, dataDir);
    for (const path of log.written)
      await expectWritten(client, posix.join(dataDir, path), TEMPLATES.find((x) => x.path === path)!.content);
    return {
      status: 'pass',
      detail: `Mkdir ${dataDir}; wrote ${log.written.length} (${log.written.join(', ')}), each -rw------- with its text${log.kept.length ? `; kept ${log.kept.join(', ')} (create-only, present)` : ''}${log.renamedIdentity ? '; IDENTITY.md renamed to AGENTS.md' : ''}`,
    };
  });
}

function bootstrapIdentityCheck(skipIfRefused: SkipIfRefused): CheckSpec {
  return custom('bootstrap.identity', async (t) => {
    const skip = await skipIfRefused(t);
    if (skip) return skip;
    const { client } = t;
    const root = `${t.work}/bootstrap-identity`;
    const mine = '# my identity\n';
    await client.writeFile(`${root}/IDENTITY.md`, mine);
    const log = await bootstrapTemplates(client, root);
    expect(log.renamedIdentity, 'IDENTITY.md was not renamed although AGENTS.md was missing');
    expect(
      (await statOrMissing(client, `${root}/IDENTITY.md`)) === undefined,
      'IDENTITY.md still exists after Rename to AGENTS.md',
    );
    expectEqual(
      await text(client, `${root}/AGENTS.md`),
      mine,
      'AGENTS.md after the rename (create-only: the template must not replace it)',
    );
    // With AGENTS.md present a later IDENTITY.md stays where it is.
    await client.writeFile(`${root}/IDENTITY.md`, mine);
    const again = await bootstrapTemplates(client, root);
    expect(!again.renamedIdentity, 'IDENTITY.md renamed over an existing AGENTS.md');
    expect(
      (await statOrMissing(client, `${root}/IDENTITY.md`)) !== undefined,
      'IDENTITY.md disappeared although AGENTS.md existed',
    );
    return {
      status: 'pass',
      detail:
        'IDENTITY.md → AGENTS.md (Rename) when AGENTS.md is missing, kept as the bot wrote it; left alone once AGENTS.md exists',
    };
  });
}

function bootstrapReconcileCheck(skipIfRefused: SkipIfRefused): CheckSpec {
  return custom('bootstrap.reconcile', async (t) => {
    const skip = await skipIfRefused(t);
    if (skip) return skip;
    const { client } = t;
    const root = `${t.work}/bootstrap-reconcile`;
    await bootstrapTemplates(client, root);
    const own = 'the bot wrote this\n';
    const skill = TEMPLATES.find((x) => isManaged(x.path))!;
    await client.writeFile(`${root}/MEMORY.md`, own);
    await client.writeFile(`${root}/${skill.path}`, own);
    const log = await bootstrapTemplates(client, root);
    expectEqual(
      await text(client, `${root}/MEMORY.md`),
      own,
      "MEMORY.md after a second bootstrap (create-only: the bot's text stays)",
    );
    await expectWritten(client, `${root}/${skill.path}`, skill.content);
    const managed = TEMPLATES.filter((x) => isManaged(x.path)).map((x) => x.path);
    expectEqual(
      log.written.join(','),
      managed.join(','),
      'files rewritten on reconcile (only the managed .memoh/skills/ files)',
    );
    return {
      status: 'pass',
      detail: `a second bootstrap keeps ${log.kept.length} create-only files as they are and rewrites the ${managed.length} managed skills (-rw-------)`,
    };
  });
}

async function text(client: BridgeClient, path: string): Promise<string> {
  return Buffer.concat(await client.readRaw(path, { maxBytes: 1024 * 1024 })).toString('utf8');
}

/** Written by an atomic WriteFile: a file, mode 0600 whatever was there, holding exactly `content`. */
async function expectWritten(client: BridgeClient, path: string, content: string): Promise<void> {
  const e = await client.stat(path);
  if (e.isDir) fail(`${path} is a directory`);
  expectEqual(
    e.mode,
    '-rw-------',
    `mode of ${path} after WriteFile`,
    'v0.18 writes files atomically (temp file + rename): always 0600',
  );
  expectEqual(await text(client, path), content, `contents of ${path}`);
}
