import type { Strategy } from './strategy.js';
import type { EndpointTable } from '../state/endpoints.js';
import type { Header } from '../state/header.js';

/**
 * Weighted rotation: endpoint e receives weight(e) of every Σweight requests. Driven by the shared
 * ticket counter rather than randomness, so the split is exact across workers and testable.
 */
export class Weighted implements Strategy {
  readonly name = 'weighted';
  pick(candidates: Int32Array, count: number, endpoints: EndpointTable, header: Header): number {
    let total = 0;
    for (let k = 0; k < count; k++) total += endpoints.weight(candidates[k]!);
    if (total <= 0) return candidates[0]!;
    let ticket = header.nextTicket() % total;
    for (let k = 0; k < count; k++) {
      const e = candidates[k]!;
      ticket -= endpoints.weight(e);
      if (ticket < 0) return e;
    }
    return candidates[count - 1]!;
  }
}
