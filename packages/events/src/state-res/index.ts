export type { EventLookup } from './event-graph.ts';
export type { StateResOptions, StateResResult } from './result.ts';
export { resolveState, resolveStateDetailed } from './resolve.ts';
export { isPowerEvent } from './power-order.ts';
