/**
 * Waits until `check` returns (or resolves to) true, polling every 10 ms; fails with `what` after
 * `timeoutMs`. For waiting on asynchronous effects, not for asserting how fast they happen: the timeout
 * only bounds a failure, so give slow conditions a generous one.
 */
export async function waitFor(
  what: string,
  check: () => boolean | Promise<boolean>,
  timeoutMs = 5000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
