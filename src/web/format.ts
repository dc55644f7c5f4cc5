// Numbers as people read them on the page.

/** A rate in bit/s with its unit: 1.23 Mbit/s. */
export function formatBits(bitsPerS: number | null): string {
  if (bitsPerS === null) return '–';
  const units = ['bit/s', 'Kbit/s', 'Mbit/s', 'Gbit/s'];
  let value = bitsPerS;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) (value /= 1000), unit++;
  return `${value.toFixed(value < 10 ? 2 : value < 100 ? 1 : 0)} ${units[unit]}`;
}

/** A size in bytes: 12.3 KB. */
export function formatBytes(bytes: number): string {
  return bytes < 1000 ? `${bytes} B` : bytes < 1e6 ? `${(bytes / 1e3).toFixed(1)} KB` : `${(bytes / 1e6).toFixed(2)} MB`;
}

/** A number with a fixed count of decimals, or a dash for unknown. */
export function formatNumber(value: number | null, decimals: number): string {
  return value === null ? '–' : value.toFixed(decimals);
}
