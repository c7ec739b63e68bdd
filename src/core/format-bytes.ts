/** A byte count for people, in binary units with one decimal: `4.2 GiB`, `512.0 MiB`, `900 B`. */
export function formatBytes(bytes: number): string {
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = bytes;
  let unit = 'B';
  for (const u of units) {
    if (v < 1024) break;
    v /= 1024;
    unit = u;
  }
  return unit === 'B' ? `${bytes} B` : `${v.toFixed(1)} ${unit}`;
}
