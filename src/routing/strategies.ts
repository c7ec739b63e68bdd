import type { StrategyName } from '../config/types.js';
import type { Strategy } from './strategy.js';
import { LeastConnections } from './least-connections.js';
import { RoundRobin } from './round-robin.js';
import { Priority } from './priority.js';
import { Weighted } from './weighted.js';

const FACTORIES: Readonly<Record<StrategyName, () => Strategy>> = {
  'least-connections': () => new LeastConnections(),
  'round-robin': () => new RoundRobin(),
  priority: () => new Priority(),
  weighted: () => new Weighted(),
};

export const STRATEGY_NAMES = Object.keys(FACTORIES) as StrategyName[];

export function createStrategy(name: StrategyName): Strategy {
  return FACTORIES[name]();
}
