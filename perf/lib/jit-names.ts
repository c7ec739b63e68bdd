/**
 * Names for the JIT frames of a callgrind profile. callgrind knows V8's generated code only as
 * addresses (`???:0x…`); `node --perf-basic-prof` writes /tmp/perf-PID.map, one line per code
 * object (`START SIZE NAME`, hex), which names them: `JS:*#parseHead …cli.cjs:11459` (`*` optimised,
 * `^` baseline, `~` interpreted).
 */
import { existsSync, readFileSync } from 'node:fs';

interface CodeRange {
  start: number;
  end: number;
  name: string;
}

export class JitNames {
  readonly #ranges: CodeRange[];

  constructor(mapFile: string) {
    this.#ranges = [];
    if (!existsSync(mapFile)) return;
    for (const line of readFileSync(mapFile, 'utf8').split('\n')) {
      const first = line.indexOf(' ');
      const second = line.indexOf(' ', first + 1);
      if (first < 0 || second < 0) continue;
      const start = parseInt(line.slice(0, first), 16);
      this.#ranges.push({ start, end: start + parseInt(line.slice(first + 1, second), 16), name: line.slice(second + 1) });
    }
    this.#ranges.sort((a, b) => a.start - b.start);
  }

  /** The code object holding `address`, or null. (Code moved by the GC keeps its newest name.) */
  nameOf(address: number): string | null {
    let lo = 0;
    let hi = this.#ranges.length - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (this.#ranges[mid]!.start <= address) {
        found = mid;
        lo = mid + 1;
      } else {
        hi = mid - 1;
      }
    }
    const r = found >= 0 ? this.#ranges[found]! : null;
    return r !== null && address < r.end ? r.name : null;
  }

  /** A callgrind_annotate listing with each `???:0x…` JIT address replaced by its name, when known. */
  annotate(listing: string): string {
    return listing.replace(/\?\?\?:0x([0-9a-f]+) \[\?\?\?\]/g, (whole, hex: string) => this.nameOf(parseInt(hex, 16)) ?? whole);
  }
}
