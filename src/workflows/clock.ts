/**
 * Workflow time. Inside Temporal's workflow sandbox `Date` is replaced by a deterministic clock
 * that reads the time of the current workflow task, so this is replay-safe; it lives here alone so
 * that the lint rule against clocks in workflow code has exactly one, deliberate exception.
 */
export function workflowNow(): number {
  // eslint-disable-next-line no-restricted-syntax -- deterministic inside the workflow sandbox (see above)
  return Date.now();
}
