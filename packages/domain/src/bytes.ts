// How big something is, in the words the console, the CLI and the agent all print (issue 15 item 3).

const UNITS = ['KiB', 'MiB', 'GiB', 'TiB'] as const;

/**
 * A size in binary (IEC) units, since every limit it is printed beside is a power of two:
 * `1000 bytes`, `2.9 KiB`, `1.5 GiB`, `8 GiB`, `612 MiB`. One decimal below 100 of a unit (none
 * when it is `.0`), whole numbers from 100 up; TiB is the largest unit.
 */
export function formatBytes(n: number): string {
  if (n < 1024) return `${n} bytes`;
  let v = n / 1024;
  let u = 0;
  while (v >= 1024 && u < UNITS.length - 1) {
    v /= 1024;
    u++;
  }
  const s = v >= 100 ? v.toFixed(0) : v.toFixed(1).replace(/\.0$/, '');
  return `${s} ${UNITS[u]}`;
}
