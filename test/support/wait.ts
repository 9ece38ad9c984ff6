/** Polls `probe` (every `every` ms) until it returns something truthy; throws naming `what` after `ms`. */
export async function until<T>(
  what: string,
  ms: number,
  probe: () => T | Promise<T>,
  every = 50,
): Promise<NonNullable<T>> {
  const deadline = performance.now() + ms;
  for (;;) {
    const v = await probe();
    if (v) return v as NonNullable<T>;
    if (performance.now() > deadline) throw new Error(`gave up after ${ms / 1000} s waiting for ${what}`);
    await new Promise((r) => setTimeout(r, every));
  }
}

/** `p`, or an error naming `what` after `ms`. */
export async function within<T>(what: string, ms: number, p: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`gave up after ${ms / 1000} s waiting for ${what}`)), ms);
  });
  try {
    return await Promise.race([p, late]);
  } finally {
    clearTimeout(timer);
  }
}
