// Integration tests wait on a condition, never on a fixed delay; this is the one bounded poll they share.

/** Resolves once `cond` holds (polled every 20 ms), or rejects naming `what` after `ms`. */
export async function until(what: string, cond: () => boolean | Promise<boolean>, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
