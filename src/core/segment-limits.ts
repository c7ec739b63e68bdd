/**
 * Bounds on the shared segment's size that the configuration must respect too (config/load.ts
 * checks them with messages naming the keys; state/layout.ts enforces them).
 */

/** Model cells (endpoints × models) at most: 2^20 cells of 32 B is 32 MiB, half of Docker's default /dev/shm. */
export const MAX_MODEL_CELLS = 1 << 20;
