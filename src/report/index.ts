import type { FailOn } from '../core/check.js';
import { type Check, type Status, worst } from '../core/check.js';
import type { Era } from '../core/era.js';
import { redactDeep } from '../core/redact.js';
import { checkLines, LABEL, mark, resultOf } from './checks.js';

export { checkLines, failing, LABEL, mark, resultOf } from './checks.js';
export * from './stages.js';

/**
 * The run's results in one serialisable shape. Every renderer below (terminal table, job summary,
 * annotations, JSON, JUnit) reads only this, so they cannot disagree on a check. Each renderer redacts
 * the report first (rows echo inputs: image refs, user check commands, error messages), so no renderer
 * can leak what another masks.
 */
export type Stage = 'toolkit' | 'validate' | 'mirror' | 'smoke';

export interface StageRow {
  /** The image as the user wrote it; `toolkit` rows name the toolkit instead. */
  image: string;
  /** `linux/amd64`… */
  platform: string;
  stage: Stage;
  status: Status;
  durationMs: number;
  checks: Check[];
  /** Why the stage did not run (a stage it depends on failed, or nothing to do). */
  skipped?: string;
  /** The Memoh era the image × platform was judged by (validate, smoke), and what decided it. */
  memoh?: Era;
  memohWhy?: string;
  /** When a workspace failed: its container's state, exit code and last log lines. */
  failureContext?: { state: string; exitCode: number | null; logs: string[] };
}

export interface RunReport {
  tool: { name: 'memoh-workspace'; version: string };
  mode: string;
  startedAt: string;
  durationMs: number;
  failOn: FailOn;
  status: Status;
  /** What the exit code and the Action's `result` output say. */
  result: 'success' | 'failure';
  rows: StageRow[];
  /** Free-form facts worth showing (toolkit path, wire name, mirror used…). */
  facts: Record<string, string>;
}

export function finishReport(partial: Omit<RunReport, 'status' | 'result' | 'durationMs'>, started: number): RunReport {
  const status = worst(partial.rows.map((r) => r.status));
  return {
    ...partial,
    durationMs: Math.round(performance.now() - started),
    status,
    result: resultOf(status, partial.failOn),
  };
}

/** Why a run failed, in a few words (the Action's failed step). */
export function failureReason(report: RunReport): string {
  return report.status === 'fail' ? 'checks failed' : `warnings (fail-on: ${report.failOn})`;
}

export function rowStatus(checks: Check[]): Status {
  return checks.length === 0 ? 'skip' : worst(checks.map((c) => c.status));
}

export function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)}s`;
}

const counts = (checks: Check[]) => {
  const n = (s: Status) => checks.filter((c) => c.status === s).length;
  return `${n('pass')}/${checks.length} passed${n('warn') ? `, ${n('warn')} warn` : ''}${n('fail') ? `, ${n('fail')} failed` : ''}`;
};

/** Checks that deserve the user's attention, in report order. */
export function problems(report: RunReport): { row: StageRow; check: Check }[] {
  const out: { row: StageRow; check: Check }[] = [];
  for (const row of report.rows)
    for (const check of row.checks) if (check.status === 'fail' || check.status === 'warn') out.push({ row, check });
  return out;
}

const where = (row: StageRow) => `${row.image} ${row.platform} ${row.stage}`;

/** Markdown for $GITHUB_STEP_SUMMARY: the image × platform × stage table, then what failed. */
export function toMarkdown(full: RunReport): string {
  const report = redactDeep(full);
  const lines: string[] = [];
  lines.push(`## memoh-workspace ${report.mode}: ${report.result === 'success' ? '✅ success' : '❌ failure'}`);
  lines.push('');
  lines.push('| Image | Platform | Stage | Memoh | Result | Checks | Duration |');
  lines.push('| --- | --- | --- | --- | --- | --- | --- |');
  for (const r of report.rows) {
    const detail = r.skipped ? `skipped: ${r.skipped}` : counts(r.checks);
    lines.push(
      `| ${md(r.image)} | ${r.platform} | ${r.stage} | ${eraCell(r)} | ${mark(r.status)} | ${md(detail)} | ${seconds(r.durationMs)} |`,
    );
  }
  const bad = problems(report);
  if (bad.length) {
    lines.push('', '### Failures and warnings', '');
    lines.push('| Where | Check | Result | Detail | Fix |');
    lines.push('| --- | --- | --- | --- | --- |');
    for (const { row, check } of bad) {
      lines.push(
        `| ${md(where(row))} | \`${check.id}\` | ${mark(check.status)} | ${md(check.detail)} | ${md(check.fix ?? '')} |`,
      );
    }
  }
  for (const row of report.rows) {
    if (!row.failureContext) continue;
    lines.push('', `<details><summary>${md(where(row))}: ${containerLine(row.failureContext)}</summary>`, '');
    lines.push('~~~', ...row.failureContext.logs.map((l) => l.replace(/^~~~/, ' ~~~')), '~~~', '', '</details>');
  }
  const eras = eraLines(report);
  if (eras.length) {
    lines.push('', '<details><summary>Memoh era per image</summary>', '');
    for (const e of eras) lines.push(`- ${md(e)}`);
    lines.push('', '</details>');
  }
  const facts = Object.entries(report.facts);
  if (facts.length) {
    lines.push('', '<details><summary>Run facts</summary>', '');
    for (const [k, v] of facts) lines.push(`- **${md(k)}**: ${md(v)}`);
    lines.push('', '</details>');
  }
  lines.push(
    '',
    `Total ${seconds(report.durationMs)} · fail on ${report.failOn} · memoh-workspace ${report.tool.version}`,
    '',
  );
  return lines.join('\n');
}

/** One line per image × platform and judgement (validate and smoke usually agree): what era, and why. */
function eraLines(report: RunReport): string[] {
  const lines = report.rows
    .filter((r) => r.memohWhy)
    .map((r) => `${r.image} ${r.platform}: Memoh ${r.memoh}, by ${r.memohWhy}`);
  return [...new Set(lines)];
}

/** The era column: the era a row was judged by, marked when nothing decided it for certain. */
function eraCell(r: StageRow): string {
  if (!r.memoh) return '';
  return r.memohWhy?.endsWith('(a guess)') ? `${r.memoh}?` : r.memoh;
}

function containerLine(f: NonNullable<StageRow['failureContext']>): string {
  return `container ${f.state}${f.exitCode === null ? '' : `, exit code ${f.exitCode}`}, last ${f.logs.length} log lines`;
}

function md(s: string): string {
  return s.replace(/\|/g, '\\|').replace(/\r?\n/g, ' ');
}

/** Plain text for a terminal: the same table. */
export function toText(full: RunReport): string {
  const report = redactDeep(full);
  const rows = report.rows.map((r) => [
    r.image,
    r.platform,
    r.stage,
    eraCell(r),
    LABEL[r.status],
    r.skipped ? `skipped: ${r.skipped}` : counts(r.checks),
    seconds(r.durationMs),
  ]);
  const head = ['IMAGE', 'PLATFORM', 'STAGE', 'MEMOH', 'RESULT', 'CHECKS', 'TIME'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const fmt = (cells: string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i] ?? 0))
      .join('  ')
      .trimEnd();
  const lines = [fmt(head), ...rows.map(fmt)];
  const bad = problems(report).map(({ row, check }) => ({ ...check, id: `${where(row)} ${check.id}` }));
  lines.push(...checkLines(bad, { style: 'compact', colon: true, inlineFix: true }));
  for (const e of eraLines(report)) lines.push(`era ${e}`);
  for (const row of report.rows) {
    if (!row.failureContext) continue;
    lines.push(`${where(row)}: ${containerLine(row.failureContext)}:`);
    for (const l of row.failureContext.logs) lines.push(`  | ${l}`);
  }
  lines.push(
    `${report.result === 'success' ? 'SUCCESS' : 'FAILURE'} in ${seconds(report.durationMs)} (fail on ${report.failOn})`,
  );
  return lines.join('\n');
}

/** The JSON report file. */
export function toJson(report: RunReport): string {
  return `${JSON.stringify(redactDeep(report), null, 2)}\n`;
}

export interface Annotation {
  level: 'error' | 'warning';
  title: string;
  message: string;
}

/** One annotation per failing or warning check. */
export function annotations(report: RunReport): Annotation[] {
  return problems(redactDeep(report)).map(({ row, check }) => ({
    level: check.status === 'fail' ? 'error' : 'warning',
    title: `${check.id} (${where(row)})`,
    message: `${check.detail}${check.fix ? `\nFix: ${check.fix}` : ''}`,
  }));
}

/** JUnit XML: a suite per image × platform × stage, a case per check. Warnings pass, with the detail as output. */
export function toJUnit(full: RunReport): string {
  const report = redactDeep(full);
  const out: string[] = ['<?xml version="1.0" encoding="UTF-8"?>'];
  const all = report.rows.flatMap((r) => r.checks);
  const n = (cs: Check[], s: Status) => cs.filter((c) => c.status === s).length;
  out.push(
    `<testsuites name="memoh-workspace" tests="${all.length}" failures="${n(all, 'fail')}" skipped="${n(all, 'skip')}" time="${(report.durationMs / 1000).toFixed(3)}">`,
  );
  for (const row of report.rows) {
    const name = where(row);
    out.push(
      `  <testsuite name="${xml(name)}" tests="${row.checks.length}" failures="${n(row.checks, 'fail')}" skipped="${n(row.checks, 'skip')}" time="${(row.durationMs / 1000).toFixed(3)}">`,
    );
    if (row.skipped) out.push(`    <properties><property name="skipped" value="${xml(row.skipped)}"/></properties>`);
    for (const c of row.checks) {
      const open = `    <testcase classname="${xml(name)}" name="${xml(c.id)}" time="${((c.durationMs ?? 0) / 1000).toFixed(3)}"`;
      const text = `${c.detail}${c.fix ? `\nFix: ${c.fix}` : ''}`;
      if (c.status === 'fail')
        out.push(`${open}><failure message="${xml(c.detail)}">${xml(text)}</failure></testcase>`);
      else if (c.status === 'skip') out.push(`${open}><skipped message="${xml(c.detail)}"/></testcase>`);
      else if (c.status === 'warn') out.push(`${open}><system-out>${xml(`WARNING: ${text}`)}</system-out></testcase>`);
      else out.push(`${open}/>`);
    }
    out.push('  </testsuite>');
  }
  out.push('</testsuites>', '');
  return out.join('\n');
}

function xml(s: string): string {
  // Control characters are not allowed in XML 1.0 at all, even escaped.
  return s
    .replace(/[\u0000-\u0008\u000B\u000C\u000E-\u001F]/g, '')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;');
}
