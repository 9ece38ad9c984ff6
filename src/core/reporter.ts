/**
 * How stages tell the user what they are doing. Stages never print; each face implements this
 * (log lines and groups in the Action, plain or live lines in a terminal, nothing in tests).
 */
export interface Reporter {
  info(message: string): void;
  warn(message: string): void;
  debug(message: string): void;
  /** A progress line for a long operation; `key` identifies it (a download, a layer). Callers throttle. */
  progress(key: string, message: string): void;
  group<T>(name: string, fn: () => Promise<T>): Promise<T>;
}

export const silentReporter: Reporter = {
  info() {},
  warn() {},
  debug() {},
  progress() {},
  group: (_name, fn) => fn(),
};

/** Collects messages: for tests and for stages that want to hand warnings back in their result. */
export function recordingReporter(): Reporter & { lines: { level: string; message: string }[] } {
  const lines: { level: string; message: string }[] = [];
  return {
    lines,
    info: (message) => lines.push({ level: 'info', message }),
    warn: (message) => lines.push({ level: 'warn', message }),
    debug: (message) => lines.push({ level: 'debug', message }),
    progress: (key, message) => lines.push({ level: 'progress', message: `${key}: ${message}` }),
    group: (_name, fn) => fn(),
  };
}

/** Calls `emit` at most once per `intervalMs` (plus always for the final call with `force`). */
export function throttle(intervalMs: number): (emit: () => void, force?: boolean) => void {
  let last = 0;
  return (emit, force = false) => {
    const now = Date.now();
    if (force || now - last >= intervalMs) {
      last = now;
      emit();
    }
  };
}
