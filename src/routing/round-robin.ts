import type { Strategy } from './strategy.js';
import type { EndpointTable } from '../state/endpoints.js';
import type { Header } from '../state/header.js';

/** Strict rotation over the candidates, with one ticket counter shared by every worker. */
export class RoundRobin implements Strategy {
  readonly name = 'round-robin';
  pick(candidates: Int32Array, count: number, _endpoints: EndpointTable, header: Header): number {
    return candidates[header.nextTicket() % count]!;
  }
}
