import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, copyFile, mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type Dockerode from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BridgeConnection, BridgeNotReady, connectBridge } from '../../src/bridge/connect.js';
import { runChecks } from '../../src/bridge/runner.js';
import {
  bootstrapTemplates,
  CONTRACT_SUITE_IDS,
  TEMPLATES,
  workspaceContractChecks,
} from '../../src/bridge/suite-contract.js';
import type { Check } from '../../src/core/check.js';
import { docker } from '../../src/core/docker.js';
import { CleanupLedger } from '../../src/core/ledger.js';
import { platformOf } from '../../src/core/platform.js';
import { REQUIRED_EXECUTABLES, validateImages } from '../../src/image/index.js';
import { testContext } from '../support/context.js';
import { tempDir } from '../support/tmp.js';
import { IMAGE_FACTS, IMAGES, type ImageFacts, type ImageKey } from '../world/images.js';
import { standinBridge } from '../world/paths.js';

/**
 * The contract and bootstrap checks over a live bridge: the v0.18 stand-in in a workspace made from the test
 * world's memohai/workspace-shaped images, started the way Memoh v0.18's containerd backend starts it (only the
 * bridge file mounted, at /opt/memoh/bridge; the socket dir at /run/memoh; tini as PID 1). This file's own small
 * copy of that spec; src/workspace owns the real one.
 */

const BRIDGE = standinBridge('amd64', 'v0.18');
const ctx = () => testContext();

interface Workspace {
  container: Dockerode.Container;
  conn: BridgeConnection;
  exec(cmd: string): Promise<string>;
  remove(): Promise<void>;
}

async function startWorkspace(image: string, tini: boolean): Promise<Workspace> {
  const id = randomBytes(4).toString('hex');
  const dir = tempDir(`contract-bridge-${id}`);
  const socketDir = join(dir, 'run');
  const bridge = join(dir, 'bridge');
  let container: Dockerode.Container | undefined;
  let conn: BridgeConnection | undefined;
  const remove = async () => {
    conn?.close();
    if (container) await container.remove({ force: true, v: true }).catch(() => {});
    await rm(dir, { recursive: true, force: true });
  };
  try {
    await copyFile(BRIDGE, bridge);
    await chmod(bridge, 0o755);
    await mkdir(socketDir, { mode: 0o750 });
    container = await docker().createContainer({
      name: `memoh-contract-test-${id}`,
      Image: image,
      Entrypoint: tini ? ['/usr/bin/tini'] : ['/opt/memoh/bridge'],
      Cmd: tini ? ['-g', '--', '/opt/memoh/bridge'] : [],
      Env: ['BRIDGE_SOCKET_PATH=/run/memoh/bridge.sock', 'HOME=/data'],
      Labels: { 'memoh.workspace': 'test' },
      HostConfig: { Binds: [`${bridge}:/opt/memoh/bridge:ro`, `${socketDir}:/run/memoh:rw`], NetworkMode: 'none' },
    });
    await container.start();
    const sock = join(socketDir, 'bridge.sock');
    // The socket file exists from bind(); the bridge answers once it serves: retry "not ready", boundedly.
    for (let i = 0; !conn; i++) {
      try {
        if (existsSync(sock)) conn = await connectBridge(sock, { service: 'auto', deadlineMs: 3000 });
      } catch (err) {
        if (!(err instanceof BridgeNotReady) || i >= 200) throw err;
      }
      if (!conn && i >= 200)
        throw new Error(
          `no bridge socket within 10 s; logs:\n${(await container.logs({ stdout: true, stderr: true })).toString()}`,
        );
      if (!conn) await new Promise((r) => setTimeout(r, 50));
    }
  } catch (err) {
    await remove();
    throw err;
  }
  const c = container;
  return {
    container: c,
    conn,
    remove,
    async exec(cmd: string) {
      const e = await c.exec({ Cmd: ['sh', '-c', cmd], AttachStdout: true, AttachStderr: true });
      const stream = await e.start({});
      const chunks: Buffer[] = [];
      stream.on('data', (d: Buffer) => chunks.push(d));
      await new Promise((r) => stream.on('end', r));
      // Docker's multiplexed stream: 8-byte frame headers before each chunk.
      const raw = Buffer.concat(chunks);
      let out = '';
      for (let i = 0; i + 8 <= raw.length; ) {
        const n = raw.readUInt32BE(i + 4);
        out += raw.subarray(i + 8, i + 8 + n).toString('utf8');
        i += 8 + n;
      }
      return out;
    },
  };
}

async function run(ws: Workspace): Promise<Check[]> {
  const work = `/data/smoke-${randomBytes(4).toString('hex')}`;
  await ws.conn.client.mkdir(work);
  return runChecks(ws.conn.client, workspaceContractChecks(), ctx(), { work });
}
const byId = (checks: Check[], id: string) => checks.find((c) => c.id === id)!;

beforeAll(() => {
  if (!existsSync(BRIDGE)) throw new Error(`${BRIDGE} is missing: test/bridge-standin/build.sh builds it`);
});

describe('the good workspace image, through the v0.18 stand-in', () => {
  let ws: Workspace;
  let checks: Check[];
  beforeAll(async () => {
    ws = await startWorkspace(IMAGES.workspaceAmd64, true);
    checks = await run(ws);
    console.info(checks.map((c) => `${c.id} ${c.durationMs} ms`).join('; '));
  });
  afterAll(async () => ws?.remove());

  it('passes every contract rule and replays the bootstrap', () => {
    expect(checks.map((c) => c.id)).toEqual([...CONTRACT_SUITE_IDS]);
    expect(
      checks.filter((c) => c.status !== 'pass'),
      JSON.stringify(checks, null, 1),
    ).toEqual([]);
    expect(byId(checks, 'contract.executables').detail).toContain('all 12 runtime executables');
  });

  it('the bootstrap left /data as Memoh would: every template 0600 with its text (seen by the kernel, not the bridge)', async () => {
    for (const t of TEMPLATES) {
      const out = await ws.exec(`stat -c %a /data/${t.path} && cat /data/${t.path}`);
      expect(out, t.path).toBe(`600\n${t.content}`);
    }
    expect(byId(checks, 'bootstrap.templates').detail).toMatch(
      /^Mkdir \/data; wrote 7 \(\.memoh\/hooks\.json, \.memoh\/skills\/hooks-setup\/SKILL\.md, /,
    );
  });

  it('a second bootstrap of /data keeps the create-only files and rewrites only the managed skills', async () => {
    await ws.conn.client.writeFile('/data/MEMORY.md', 'mine\n');
    const log = await bootstrapTemplates(ws.conn.client, '/data');
    expect(log.written).toEqual(['.memoh/skills/hooks-setup/SKILL.md', '.memoh/skills/skill-creator/SKILL.md']);
    expect(log.kept).toEqual(['.memoh/hooks.json', 'AGENTS.md', 'HEARTBEAT.md', 'MEMORY.md', 'PROFILES.md']);
    expect(await ws.exec('cat /data/MEMORY.md')).toBe('mine\n');
  });

  it('the bridge and the archive API see the same modes: Stat over RPC, os.FileMode.String() of the image at rest, stat -L in the container', async () => {
    const [report] = await validateImages(
      {
        images: [IMAGES.workspaceAmd64],
        platforms: [platformOf('amd64')],
        registry: '',
        pull: 'never',
        concurrency: 1,
        memoh: 'v0.18',
      },
      { ...ctx(), ledger: new CleanupLedger(docker) },
    );
    expect(report!.checks.find((c) => c.id === 'image.contract-executables')?.detail).toBe(
      byId(checks, 'contract.executables').detail,
    );
    for (const path of REQUIRED_EXECUTABLES) {
      const e = await ws.conn.client.stat(path);
      expect(e.mode, path).toBe((await ws.exec(`stat -L -c %A ${path}`)).trim());
    }
  });
});

/** Each broken variant: the bridge path names the same rule, in the same words, as validate does at rest. */
describe.each([
  ['workspaceNoContract', 'contract.file', 'image.contract'],
  ['workspaceContractV1', 'contract.version', 'image.contract-version'],
  ['workspaceMusl', 'contract.platform', 'image.contract-platform'],
  ['workspaceNoTini', 'contract.executables', 'image.contract-executables'],
  ['workspaceNoExec', 'contract.executables', 'image.contract-executables'],
] as const)('%s through the v0.18 stand-in', (key: ImageKey, id, imageId) => {
  let ws: Workspace;
  let checks: Check[];
  beforeAll(async () => {
    ws = await startWorkspace(IMAGES[key], (IMAGE_FACTS[key] as ImageFacts).workspace?.tini !== false);
    checks = await run(ws);
  });
  afterAll(async () => ws?.remove());

  it(`fails ${id} in Memoh's words, skips the later rules, and does not bootstrap`, () => {
    const refusal = (IMAGE_FACTS[key] as ImageFacts).workspace!.refusal!;
    expect(checks.filter((c) => c.status === 'fail').map((c) => c.id)).toEqual([id]);
    expect(byId(checks, id).detail).toContain(`workspace image is incompatible: ${refusal}`);
    const after = CONTRACT_SUITE_IDS.slice(CONTRACT_SUITE_IDS.indexOf(id) + 1);
    for (const later of after) expect(byId(checks, later).status, later).toBe('skip');
    expect(byId(checks, 'bootstrap.templates').detail).toContain('Memoh skips the bootstrap of an image it refuses');
  });

  it('nothing was written to /data', async () => {
    expect(await ws.exec('ls -A /data | grep -v "^smoke-" || true')).toBe('');
  });

  it('validate, at rest, says the same', async () => {
    const [report] = await validateImages(
      {
        images: [IMAGES[key]],
        platforms: [platformOf('amd64')],
        registry: '',
        pull: 'never',
        concurrency: 1,
        memoh: 'v0.18',
      },
      { ...ctx(), ledger: new CleanupLedger(docker) },
    );
    const atRest = report!.checks.find((c) => c.id === imageId)!;
    expect(atRest.status).toBe('fail');
    expect(atRest.detail.split(' (')[0]).toBe(byId(checks, id).detail.split(' (')[0]);
  });
});
