/**
 * The js backend's async form: runs a range-splittable op in slices of about
 * `budgetMs`, yielding to the event loop between slices so a server stays responsive.
 */
export async function runInSlices(
  total: number,
  costPerUnit: number,
  run: (begin: number, end: number) => void,
  budgetMs = 4,
): Promise<void> {
  // ~1e8 simple operations per second in plain JS: size slices to the time budget.
  const perSlice = Math.max(1, Math.floor((budgetMs * 1e5) / Math.max(1, costPerUnit)));
  for (let b = 0; b < total; b += perSlice) {
    run(b, Math.min(total, b + perSlice));
    if (b + perSlice < total) await new Promise<void>((resolve) => setImmediate(resolve));
  }
}
