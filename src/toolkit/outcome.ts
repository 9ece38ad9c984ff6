import type { Check } from '../core/check.js';
import { nodeArch } from '../core/platform.js';
import type { Assembled } from './assemble.js';
import type { Fetcher } from './fetch.js';
import type { ArchiveFormat, FormatChoice } from './format.js';
import { muslFile, normaliseFlavours, type Plan } from './resolve.js';
import { FLAVOURS, type Flavour, type ToolkitManifest } from './types.js';

// What a build reports: its manifest (toolkit.json), its warnings and its checks.

/** What the Node.js tarballs came as: the build's choice, or (all from the archive cache) what the cache held. */
function archivesOf(a: Assembled, choice: FormatChoice | undefined): FormatChoice | undefined {
  const nodes = a.artefacts.filter((x) => x.name === 'node-glibc' || x.name === 'node-musl');
  const formats = [...new Set(nodes.map((x): ArchiveFormat => (x.file.endsWith('.tar.xz') ? 'xz' : 'gz')))];
  if (choice && formats.every((x) => x === choice.format)) return choice;
  const format = formats.length === 1 ? formats[0] : undefined;
  if (!format) return choice;
  return {
    format,
    why: choice
      ? `from the archive cache (${choice.why.replace(/: \.tar\.[gx]z$/, '')} for the rest)`
      : 'from the archive cache: nothing to measure',
  };
}

export function manifestOf(plan: Plan, a: Assembled, f: Fetcher, choice: FormatChoice | undefined): ToolkitManifest {
  const archives = archivesOf(a, choice);
  return {
    schema: 1,
    builder: `memoh-workspace ${typeof __VERSION__ === 'string' ? __VERSION__ : 'dev'}`,
    arch: plan.arch,
    node: { version: plan.node, requested: plan.nodeRequested },
    npm: { version: plan.npm, registry: plan.mirrors.npm },
    uv: { version: plan.uv },
    alpine: { version: plan.alpine, packages: a.alpinePackages },
    fallback: a.fallback,
    flavours: normaliseFlavours(plan.flavours),
    ...(archives ? { archives } : {}),
    verified: a.artefacts.every((x) => x.verifiedBy !== 'unverified'),
    mirrors: plan.mirrors,
    artefacts: a.artefacts,
    indexes: [...f.indexes].sort((a, b) => (a.url < b.url ? -1 : 1)),
  };
}

export function warningsOf(m: ToolkitManifest): string[] {
  const w: string[] = [];
  if (m.fallback === 'glibc') {
    w.push(
      `${m.mirrors.nodeMusl}/index.json has no ${muslFile(m.arch)} build of Node.js v${m.node.version}: node-musl holds the glibc build ` +
        "(fallback). On musl images node runs only if the image carries a glibc loader (e.g. Alpine's gcompat).",
    );
  }
  if (!m.verified)
    w.push(
      'checksum verification is off: the toolkit is UNVERIFIED (its artefacts were not checked against published digests)',
    );
  return w;
}

export function checksOf(
  m: ToolkitManifest,
  fromCache: boolean,
  totalMs: number,
  bytes: number,
  fromArchiveCache: string[],
): Check[] {
  const how = (name: string) => {
    const a = m.artefacts.find((x) => x.name === name);
    if (!a) return 'missing';
    return a.verifiedBy === 'unverified' ? `${a.file}, UNVERIFIED` : `${a.file}, verified against ${a.verifiedBy}`;
  };
  const has = (f: Flavour) => (m.flavours ?? FLAVOURS).includes(f);
  const notBuilt = (id: string, f: Flavour, what: string): Check => ({
    id,
    status: 'skip',
    detail: `the ${f} flavour was not built (this toolkit holds ${(m.flavours ?? FLAVOURS).join(' and ')} only): ${what}`,
  });
  const checks: Check[] = [
    has('glibc')
      ? {
          id: 'toolkit.node-glibc',
          status: 'pass',
          detail: `Node.js v${m.node.version} linux-${nodeArch(m.arch)} (${how('node-glibc')})`,
        }
      : notBuilt('toolkit.node-glibc', 'glibc', 'no glibc Node.js downloaded; glibc images cannot use it'),
    !has('musl')
      ? notBuilt(
          'toolkit.node-musl',
          'musl',
          'no musl Node.js and no Alpine package downloaded; musl images cannot use it',
        )
      : m.fallback === 'glibc'
        ? {
            id: 'toolkit.node-musl',
            status: 'warn',
            detail: `no ${muslFile(m.arch)} build of Node.js v${m.node.version} on the musl mirror: node-musl is the glibc build`,
            fix: 'musl arm64 images need a glibc loader (Alpine: apk add gcompat), or pick a Node.js version with an arm64 musl build',
          }
        : {
            id: 'toolkit.node-musl',
            status: 'pass',
            detail: `Node.js v${m.node.version} ${muslFile(m.arch)} (${how('node-musl')})`,
          },
    { id: 'toolkit.npm', status: 'pass', detail: `npm ${m.npm.version} (${how('npm')})` },
    { id: 'toolkit.uv', status: 'pass', detail: `uv ${m.uv.version} (${how('uv')})` },
    !has('musl')
      ? notBuilt('toolkit.runtime-lib', 'musl', 'no Alpine runtime libraries')
      : {
          id: 'toolkit.runtime-lib',
          status: 'pass',
          detail: `Alpine v${m.alpine.version} ${Object.entries(m.alpine.packages)
            .map(([n, v]) => `${n} ${v}`)
            .join(', ')} (${how('libgcc').includes('UNVERIFIED') ? 'UNVERIFIED' : 'verified against APKINDEX'})`,
        },
    {
      id: 'toolkit.archives',
      status: 'pass',
      detail: m.archives
        ? `Node.js archives as .tar.${m.archives.format}: ${m.archives.why}`
        : 'Node.js archives: format not recorded',
    },
    m.verified
      ? { id: 'toolkit.verified', status: 'pass', detail: `all ${m.artefacts.length} artefacts verified` }
      : {
          id: 'toolkit.verified',
          status: 'warn',
          detail: 'checksum verification was turned off: the toolkit is unverified',
          fix: 'build with verify = true (drop --no-verify)',
        },
    {
      id: 'toolkit.build',
      status: 'pass',
      detail: fromCache
        ? `from the cache in ${(totalMs / 1000).toFixed(2)} s, nothing downloaded`
        : `built in ${(totalMs / 1000).toFixed(1)} s, ${(bytes / 1e6).toFixed(1)} MB downloaded${fromArchiveCache.length ? `, ${fromArchiveCache.join(', ')} from the archive cache` : ''}`,
      durationMs: Math.round(totalMs),
    },
  ];
  return checks;
}
