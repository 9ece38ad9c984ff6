import type { Check, FailOn, Status } from '../core/check.js';

/**
 * The one place a status becomes words, and the one check-list printer: every command and both
 * faces render through here, so a status cannot read differently in two outputs.
 */
export const LABEL: Record<Status, string> = { pass: 'pass', warn: 'WARN', fail: 'FAIL', skip: 'skip' };

const EMOJI: Record<Status, string> = { pass: '✅', warn: '⚠️', fail: '❌', skip: '⏭️' };

/** For Markdown: `✅ pass`. */
export function mark(status: Status): string {
  return `${EMOJI[status]} ${status}`;
}

/** The fail-on-warning rule: whether a status fails the run (exit code 1, the Action's `result`). */
export function failing(status: Status, failOn: FailOn): boolean {
  return status === 'fail' || (failOn === 'warning' && status === 'warn');
}

export function resultOf(status: Status, failOn: FailOn): 'success' | 'failure' {
  return failing(status, failOn) ? 'failure' : 'success';
}

/**
 * How a check list is laid out. `table` (validate, smoke, toolkit): columns two spaces apart, the fix
 * of a failure or warning under the detail. `compact` (mirror, downloads, the run's problem list):
 * upper-case status, one space apart, any fix under the id, or on the same line with `inline`.
 */
export interface CheckLayout {
  style: 'table' | 'compact';
  /** Before the status. */
  indent?: string;
  /** The id column: a width, or `auto` for the longest id; ignored with `colon`. */
  width?: number | 'auto';
  /** `id: detail` instead of a padded id column. */
  colon?: boolean;
  inlineFix?: boolean;
}

export function checkLines(checks: readonly Check[], layout: CheckLayout): string[] {
  const { indent = '', colon = false } = layout;
  const width =
    layout.width === 'auto' ? Math.max(0, ...checks.map((c) => c.id.length)) : colon ? 0 : (layout.width ?? 0);
  const table = layout.style === 'table';
  const gap = table ? '  ' : ' ';
  const lines: string[] = [];
  for (const c of checks) {
    const status = table ? LABEL[c.status] : LABEL[c.status].toUpperCase();
    const id = colon ? `${c.id}:` : c.id.padEnd(width);
    const fix = c.fix && (!table || c.status === 'fail' || c.status === 'warn') ? c.fix : undefined;
    const head = `${indent}${status.padEnd(4)}${gap}${id}${gap}${c.detail}`;
    if (fix && layout.inlineFix) {
      lines.push(`${head} (fix: ${fix})`);
      continue;
    }
    lines.push(head);
    const under = table ? `${''.padEnd(4)}${gap}${''.padEnd(width)}${gap}` : `${''.padEnd(4)}${gap}`;
    if (fix) lines.push(`${indent}${under}fix: ${fix}`);
  }
  return lines;
}
