const number = new Intl.NumberFormat("en-US");

/** A number as people read it: 1,234,567. */
export function formatNumber(n: number): string {
  return number.format(n);
}

/**
 * A count and its noun, formatted and in the right number: "1 page", "2 pages", "10,000 users".
 * `plural` defaults to the noun plus "s".
 */
export function formatCount(n: number, singular: string, plural = `${singular}s`): string {
  return `${number.format(n)} ${n === 1 ? singular : plural}`;
}
