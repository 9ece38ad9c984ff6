import type { Status } from '../core/check.js';
import { formatPlatform } from '../core/platform.js';
import type { DoctorReport } from '../doctor/index.js';
import type { ImageReport } from '../image/index.js';
import type { DownloadReport, ImagePair, MirrorReport, MirrorRow } from '../mirror/index.js';
import type { ToolkitResult } from '../toolkit/types.js';
import type { SmokeReport } from '../workspace/index.js';
import { checkLines, LABEL } from './checks.js';

/** The terminal text of each stage's own command: a headline per result, then its checks (one printer). */

/** validate: one block per image × platform, then a count. */
export function formatImageReports(reports: readonly ImageReport[], totalMs: number): string {
  const lines: string[] = [];
  for (const r of reports) {
    const resolved = r.image.resolved === r.image.input ? '' : ` (${r.image.resolved})`;
    const era = r.era && `Memoh ${r.era.era}${r.era.guess ? ' (a guess)' : ''}: ${r.era.why}`;
    const facts = [r.libc, r.user && `user ${r.user}`, era].filter(Boolean).join(', ');
    lines.push(
      `${LABEL[r.status]}  ${r.image.input}${resolved} ${formatPlatform(r.platform)}${facts ? `: ${facts}` : ''} [${(r.durationMs / 1000).toFixed(1)}s]`,
    );
    lines.push(...checkLines(r.checks, { style: 'table', indent: '  ', width: 26 }));
  }
  const n = (s: Status) => reports.filter((r) => r.status === s).length;
  lines.push(
    `${reports.length} image×platform checked in ${(totalMs / 1000).toFixed(1)}s: ${n('pass')} pass, ${n('warn')} warn, ${n('fail')} fail`,
  );
  return `${lines.join('\n')}\n`;
}

/** smoke: one block per workspace, with the container's state and last log lines when it failed. */
export function formatSmokeReports(reports: readonly SmokeReport[]): string {
  const lines: string[] = [];
  for (const r of reports) {
    const service = r.service ? `, ${r.service}` : '';
    lines.push(
      `${LABEL[r.status]}  ${r.image} ${r.platform}  (bot ${r.botId}${service}, ${(r.durationMs / 1000).toFixed(1)} s)`,
    );
    lines.push(...checkLines(r.checks, { style: 'table', indent: '  ', width: 'auto' }));
    if (r.failureContext) {
      const f = r.failureContext;
      lines.push(
        `  container: ${f.state}${f.exitCode === null ? '' : `, exit code ${f.exitCode}`}; last ${f.logs.length} log lines:`,
      );
      for (const l of f.logs) lines.push(`    | ${l}`);
    }
    lines.push('');
  }
  return `${lines.join('\n')}\n`;
}

/** What `--keep` left behind and how to reach and remove it. */
export function formatKept(r: SmokeReport): string {
  const k = r.kept!;
  return [
    `kept the workspace of ${r.image} (${r.platform}):`,
    `  container  ${k.containerName}`,
    `  socket     ${k.socketPath}  (gRPC, plaintext, ${r.service ?? 'mcpcontainer'}.ContainerService; connect as root)`,
    `  remove     ${k.removeCommand}`,
  ].join('\n');
}

/** toolkit: where it went, what it holds, then its checks. */
export function formatToolkit(r: ToolkitResult): string {
  const m = r.manifest;
  const lines = [
    `toolkit ${r.arch} → ${r.dir}${r.fromCache ? ' (from cache)' : ''}`,
    `  node ${m.node.version}${m.node.requested !== m.node.version ? ` (asked: ${m.node.requested})` : ''}, npm ${m.npm.version}, uv ${m.uv.version}, ` +
      `runtime-lib from Alpine v${m.alpine.version}${m.fallback ? ', node-musl = glibc build (fallback)' : ''}${m.verified ? '' : ', UNVERIFIED'}`,
    ...checkLines(r.checks, { style: 'table', indent: '  ', width: 19 }),
  ];
  return `${lines.join('\n')}\n`;
}

/** mirror --dry-run: what would be compared and fetched. */
export function formatMirrorPlan(pairs: readonly ImagePair[], downloads: readonly { name: string; url: string }[]) {
  const lines = pairs.map(
    (p) =>
      `${p.label}: mirror ${p.mirror.ref} (${p.mirror.host} ${p.mirror.repository}) ↔ upstream ${p.upstream.ref} (${p.upstream.host} ${p.upstream.repository})`,
  );
  for (const d of downloads) lines.push(`download ${d.name}: ${d.url}`);
  return lines.join('\n') || 'nothing to check';
}

/** mirror: per image its sync status and checks, the unpaired compose services, the download checks. */
export function formatMirror(
  report: MirrorReport | undefined,
  rows: readonly MirrorRow[],
  downloads: DownloadReport | undefined,
): string {
  const lines: string[] = [];
  for (const img of report?.images ?? []) {
    lines.push(`${img.label}: ${img.status}  (mirror ${img.mirror.ref} ↔ upstream ${img.upstream.ref})`);
    const checks = rows.filter((x) => x.image === img.label).flatMap((r) => r.checks);
    lines.push(...checkLines(checks, { style: 'compact', indent: '  ', width: 22 }));
  }
  for (const u of report?.unpaired ?? []) lines.push(`${u.service}: ${LABEL.warn} ${u.reason}`);
  lines.push(...checkLines(downloads?.checks ?? [], { style: 'compact', colon: true }));
  return lines.join('\n') || 'nothing checked';
}

/** `doctor`: one line per thing looked at, then each problem with its fix. */
export function formatDoctor(r: DoctorReport): string {
  const lines: string[] = [];
  const e = r.engine;
  lines.push(
    e.reachable
      ? `engine     ${e.endpoint} (${e.source}): Docker ${e.serverVersion}, API ${e.apiVersion}, storage ${e.storageDriver}, ${e.os} ${e.arch}`
      : `engine     ${e.endpoint} (${e.source}): not reachable`,
  );
  lines.push(`host       ${r.host.arch}`);
  for (const em of r.emulation) {
    lines.push(
      `emulation  ${em.arch} via ${em.handler}: ${em.registered ? `registered${em.fixBinary ? ' (flag F)' : ' (no flag F)'}` : 'not registered'}`,
    );
  }
  for (const d of r.disk) lines.push(`disk       ${d.path}: ${(d.freeBytes / 1024 ** 3).toFixed(1)} GiB free`);
  for (const p of r.problems) lines.push(`${p.severity.padEnd(10)} ${p.detail}\n           fix: ${p.fix}`);
  if (r.problems.length === 0) lines.push('ok         no problems found');
  return lines.join('\n');
}
