import type { HistoryView } from './sample-history.js';

/**
 * The JSON the dashboard (`/ui/data`) and `corral status` read: the `/internal/status` document as
 * it is now, and the primary's ring of samples for the sparklines. One document, so the page and
 * the terminal table can never disagree about a moment.
 */
export interface DashboardView {
  readonly generated_at: string;
  readonly status: unknown;
  readonly history: HistoryView | null;
}

export function dashboardView(status: unknown, history: HistoryView | null, now = Date.now()): DashboardView {
  return { generated_at: new Date(now).toISOString(), status, history };
}
