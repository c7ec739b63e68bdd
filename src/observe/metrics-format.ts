/**
 * The two exposition formats /metrics speaks (the text itself: observe/metrics.ts). Apart so the
 * servers can negotiate without loading prom-client, which only the primary loads, on the first
 * scrape.
 */
export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';
export const OPENMETRICS_CONTENT_TYPE = 'application/openmetrics-text; version=1.0.0; charset=utf-8';

/** The Content-Type of the exposition in the format asked for. */
export function metricsContentType(openMetrics: boolean): string {
  return openMetrics ? OPENMETRICS_CONTENT_TYPE : PROMETHEUS_CONTENT_TYPE;
}

/** Whether a scraper's Accept asks for OpenMetrics (Prometheus lists it first when it can parse it). */
export function wantsOpenMetrics(accept: string): boolean {
  return accept.includes('application/openmetrics-text');
}
