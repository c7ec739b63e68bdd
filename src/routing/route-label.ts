/** Values of the `X-Corral-Route` response header: why this endpoint was chosen. */
export const ROUTE_STICKY_HIT = 'sticky-hit';     // the session's pinned endpoint served it
export const ROUTE_STICKY_NEW = 'sticky-new';     // first request of a session: pinned now
export const ROUTE_STICKY_REPIN = 'sticky-repin'; // the pin was unhealthy, saturated or failed: re-pinned
