// How the command line writes numbers people read: byte sizes, counts, durations.

/** 1536 -> "1.50 KiB"; below 1 KiB the exact count ("512 bytes"). */
export function formatBytes(n: number): string {
  const units = ["bytes", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${n} bytes` : `${v.toFixed(2)} ${units[i]}`;
}

/** 1234567 -> "1,234,567": parameter counts are read digit group by digit group. */
export function formatCount(n: number): string {
  return n.toLocaleString("en-US");
}

/** Seconds left as "42s", "3m05s", "1h02m": an ETA needs no more than two units. */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, "0")}m`;
}
