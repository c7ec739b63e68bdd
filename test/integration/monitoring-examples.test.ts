// The monitoring files corral ships (issue 14): config/examples/prometheus-alerts.yaml passes
// `promtool check rules`, its alerts fire on the series they are about (`promtool test rules`),
// and every metric named in an alert or a Grafana panel (config/examples/grafana-dashboard.json)
// is one a live corral exports — scraped after a model load through a simulated GPU, so the
// placement families are there.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { parse } from 'yaml';
import { request } from 'undici';
import { REPO_ROOT, startBackends, startCorral } from '../helpers/corral-process.js';
import { exportedNames, promtool, scrapeMetrics } from '../helpers/metrics-text.js';

const GiB = 1024 ** 3;
const ALERTS = join(REPO_ROOT, 'config', 'examples', 'prometheus-alerts.yaml');
const GRAFANA = join(REPO_ROOT, 'config', 'examples', 'grafana-dashboard.json');

/** The metric names in a PromQL expression: corral's are the identifiers with its prefix (label names and functions have none). */
function metricNames(expr: string): string[] {
  const code = expr.replace(/"(?:[^"\\]|\\.)*"/g, '""'); // label values are not names
  return [...new Set(code.match(/\bcorral_[a-zA-Z0-9_:]*/g) ?? [])];
}

interface Rule { alert: string; expr: string }

const rules = (parse(readFileSync(ALERTS, 'utf8')) as { groups: { rules: Rule[] }[] }).groups.flatMap((g) => g.rules);
const dashboard = JSON.parse(readFileSync(GRAFANA, 'utf8')) as { panels: { title: string; targets?: { expr: string }[] }[] };

t.test('the alert rules pass promtool check rules', async (t) => {
  const check = await promtool(['check', 'rules', ALERTS]);
  t.equal(check.code, 0, check.output);
  t.match(check.output, /SUCCESS: 5 rules found/);
  t.same(rules.map((r) => r.alert).sort(), ['CorralCircuitOpen', 'CorralEndpointDown', 'CorralModelLoadSlow', 'CorralQueueDepthHigh', 'CorralVramFreeBelowReserve']);
});

/**
 * One alert expected at 20 minutes with these labels and its summary as rendered; promtool
 * compares every annotation, so the description comes from the file, rendered for `labels` by
 * hand (only its {{ $labels.* }} and the one `value` placeholder the vRAM alert has).
 */
function alert(name: string, labels: Record<string, string>, summary: string, value = ''): unknown {
  const rule = rules.find((r) => r.alert === name) as Rule & { annotations: { description: string } };
  let description = rule.annotations.description.replace(/\{\{ \$labels\.(\w+) \}\}/g, (_, k: string) => labels[k] ?? '');
  description = description.replace('{{ $value | humanize1024 }}B', value);
  return { eval_time: '20m', alertname: name, exp_alerts: [{ exp_labels: labels, exp_annotations: { summary, description } }] };
}

t.test('each alert fires on the series it is about, and not on healthy ones', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'corral-alerts-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  // A minute apart; each series is healthy on one label value and failing on the other.
  const tests = {
    rule_files: [ALERTS],
    evaluation_interval: '1m',
    tests: [{
      interval: '1m',
      input_series: [
        // gpu-a: 10 loads a minute, all within 1 s; gpu-b: 10 a minute, all over 5 s.
        ...['0.1', '0.25', '0.5', '1'].map((le) => ({ series: `corral_model_load_duration_seconds_bucket{endpoint="gpu-a",le="${le}"}`, values: le === '1' ? '0+10x30' : '0x30' })),
        ...['2', '5', '10', '+Inf'].map((le) => ({ series: `corral_model_load_duration_seconds_bucket{endpoint="gpu-a",le="${le}"}`, values: '0+10x30' })),
        ...['0.1', '0.25', '0.5', '1', '2', '5'].map((le) => ({ series: `corral_model_load_duration_seconds_bucket{endpoint="gpu-b",le="${le}"}`, values: '0x30' })),
        ...['10', '+Inf'].map((le) => ({ series: `corral_model_load_duration_seconds_bucket{endpoint="gpu-b",le="${le}"}`, values: '0+10x30' })),
        { series: 'corral_queue_depth{model="qwen2.5:7b"}', values: '20x30' },
        { series: 'corral_queue_depth{model="llama3.2:1b"}', values: '1x30' },
        { series: 'corral_endpoint_circuit_state{endpoint="gpu-a",state="open"}', values: '0x30' },
        { series: 'corral_endpoint_circuit_state{endpoint="gpu-b",state="open"}', values: '1x30' },
        { series: 'corral_endpoint_state{endpoint="gpu-a",state="down"}', values: '0x30' },
        { series: 'corral_endpoint_state{endpoint="gpu-b",state="down"}', values: '1x30' },
        // 24 GiB GPUs with a 2 GiB reserve: gpu-a has 10 GiB free, gpu-b 1 GiB (other processes).
        { series: 'corral_endpoint_vram_total_bytes{endpoint="gpu-a"}', values: `${24 * GiB}x30` },
        { series: 'corral_endpoint_vram_total_bytes{endpoint="gpu-b"}', values: `${24 * GiB}x30` },
        { series: 'corral_endpoint_vram_reserved_bytes{endpoint="gpu-a"}', values: `${2 * GiB}x30` },
        { series: 'corral_endpoint_vram_reserved_bytes{endpoint="gpu-b"}', values: `${2 * GiB}x30` },
        { series: 'corral_endpoint_vram_used_bytes{endpoint="gpu-a"}', values: `${14 * GiB}x30` },
        { series: 'corral_endpoint_vram_used_bytes{endpoint="gpu-b"}', values: `${23 * GiB}x30` },
      ],
      alert_rule_test: [
        alert('CorralModelLoadSlow', { severity: 'warning', endpoint: 'gpu-b' }, 'Model loads on gpu-b are slow (p99 9.95s)'),
        alert('CorralQueueDepthHigh', { severity: 'warning', model: 'qwen2.5:7b' }, '20 requests queued for qwen2.5:7b'),
        alert('CorralCircuitOpen', { severity: 'critical', endpoint: 'gpu-b' }, 'Circuit open for endpoint gpu-b'),
        alert('CorralEndpointDown', { severity: 'critical', endpoint: 'gpu-b' }, 'Endpoint gpu-b is down'),
        alert('CorralVramFreeBelowReserve', { severity: 'warning', endpoint: 'gpu-b' }, 'vRAM free on gpu-b is below its reserve', '1GiB'),
      ],
    }],
  };
  const file = join(dir, 'alerts.test.yaml');
  // promtool reads YAML; JSON is YAML.
  writeFileSync(file, JSON.stringify(tests));
  const run = await promtool(['test', 'rules', file]);
  t.equal(run.code, 0, run.output);
});

t.test('every metric an alert or a Grafana panel names is one corral exports', async (t) => {
  const [sim] = await startBackends(t, [{ name: 'gpu', preload: false, vramBytes: 8 * GiB, loadMsPerGiB: 10, tokens: 2, models: [{ name: 'qwen2.5:7b', sizeBytes: 4 * GiB }] }]);
  const corral = await startCorral(t, [sim!], { endpoints: [{ name: 'gpu', type: 'ollama', vram: '8GiB' }] });
  const res = await request(`${corral.url}/api/chat`, { method: 'POST', body: JSON.stringify({ model: 'qwen2.5:7b', messages: [{ role: 'user', content: 'hi' }], stream: false }) });
  t.equal(res.statusCode, 200, 'a model load, so the placement families have samples');
  await res.body.dump();
  const known = exportedNames((await scrapeMetrics(`http://127.0.0.1:${corral.managementPort}`)).text);

  for (const r of rules) {
    const names = metricNames(r.expr);
    t.ok(names.length > 0, `${r.alert} names a corral metric`);
    for (const n of names) t.ok(known.has(n), `${r.alert}: ${n} is exported`);
  }
  const targets = dashboard.panels.flatMap((p) => (p.targets ?? []).map((x) => ({ panel: p.title, expr: x.expr })));
  t.ok(targets.length >= 15, 'the dashboard has its panels\' queries');
  for (const { panel, expr } of targets) {
    const names = metricNames(expr);
    t.ok(names.length > 0, `"${panel}" names a corral metric`);
    for (const n of names) t.ok(known.has(n), `"${panel}": ${n} is exported`);
  }
  const titles = dashboard.panels.map((p) => p.title).join('\n');
  for (const wanted of [/Queue depth per model/, /vRAM used and free/, /Circuit breaker/, /tokens\/s/i, /Model load latency \(p99\)/, /TTFT/]) {
    t.match(titles, wanted, `a panel for ${wanted.source}`);
  }
});
