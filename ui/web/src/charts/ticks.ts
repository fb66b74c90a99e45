/** Axis tick labels with as many decimals as the step between ticks needs, so neighbouring
 * ticks never read the same (0.1775, 0.1776 rather than 0.178, 0.178). */

/** The decimals a step such as 0.0005, 2.5 or 2e-7 is written with. */
export function decimalsOf(step: number): number {
  if (!Number.isFinite(step) || step <= 0) return 0;
  const [mantissa, exponent] = Number(step.toPrecision(6)).toExponential().split("e");
  const fraction = mantissa.split(".")[1]?.length ?? 0;
  return Math.max(0, fraction - Number(exponent));
}

/** The labels of ticks `step` apart: fixed decimals for everyday magnitudes, an exponent with
 * enough significant digits for very large or very small ones. */
export function tickLabels(ticks: (number | null)[], step: number): string[] {
  const decimals = decimalsOf(step);
  const largest = Math.max(0, ...ticks.map((t) => Math.abs(t ?? 0)));
  if (decimals <= 6 && largest < 1e9) return ticks.map((t) => (t == null ? "" : t.toFixed(decimals)));
  // Significant digits from the largest tick's magnitude down to the step's.
  const digits = Math.min(15, Math.max(1, Math.floor(Math.log10(largest || step)) - Math.floor(Math.log10(step)) + 1));
  return ticks.map((t) => (t == null ? "" : t === 0 ? "0" : t.toExponential(digits - 1)));
}
