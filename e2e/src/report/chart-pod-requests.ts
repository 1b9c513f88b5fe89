/**
 * (a) Requests per pod, the kube-proxy baseline beside our client: one bar series per scenario over the
 * union of their pods, with each scenario's max/mean in the title and its mean as a dashed line.
 */
import { byZoneThenName, type ChartSpec, formatNumber, podLabels, TITLE } from './chart-spec.ts';
import type { ReportedScenario } from './scenario-result.ts';

export const BASELINE_SCENARIO = 'skew-baseline';
/** Our client's scenarios that spread load over every pod, best evidence first. */
export const OUR_SCENARIOS = ['even-distribution', 'smoke'];

const SERIES_COLOURS: Record<string, string> = { [BASELINE_SCENARIO]: '#9c9c9c' };
const OUR_COLOURS = ['#2f7ed8', '#59a14f'];

export interface PodRequestsValues {
  /** Full pod names, in x-axis order. */
  readonly pods: string[];
  /** Per scenario, requests per pod in `pods` order; null where the pod was not in that scenario. */
  readonly series: { scenario: string; requests: (number | null)[]; maxOverMean: number | null }[];
}

export function podRequestsChart(results: readonly ReportedScenario[]): ChartSpec | undefined {
  const compared = [BASELINE_SCENARIO, ...OUR_SCENARIOS]
    .map((name) => results.find((r) => r.scenario === name))
    .filter((r): r is ReportedScenario => r !== undefined);
  if (compared.length === 0) return undefined;
  const seen = new Map<string, { pod: string; zone: string }>();
  for (const r of compared) for (const p of r.perPod) if (!seen.has(p.pod)) seen.set(p.pod, p);
  const pods = byZoneThenName([...seen.values()]);
  const series = compared.map((r) => {
    const requests = pods.map((p) => r.perPod.find((q) => q.pod === p.pod)?.requests ?? null);
    return { scenario: r.scenario, requests, maxOverMean: r.metrics['maxOverMean'] ?? maxOverMean(requests) };
  });
  const values: PodRequestsValues = { pods: pods.map((p) => p.pod), series };
  const skew = series.map((s) => `${s.scenario} ${formatNumber(s.maxOverMean, 3)}`).join(' · ');
  let ours = 0;
  return {
    id: 'pod-requests',
    scenario: undefined,
    note:
      'Requests each pod answered over the whole scenario, summed over the load pods of every zone; ' +
      'the dashed line is each scenario’s mean. A missing bar means the pod did not exist in that scenario.',
    values,
    heightPx: 380,
    wide: true,
    option: {
      title: { ...TITLE, text: `Requests per pod — max/mean: ${skew}`, subtext: 'kube-proxy baseline beside ours' },
      tooltip: { trigger: 'axis', axisPointer: { type: 'shadow' } },
      legend: { top: 44 },
      grid: { top: 80, left: 56, right: 80, bottom: 56 },
      xAxis: { type: 'category', data: podLabels(pods), axisLabel: { interval: 0, fontSize: 10, lineHeight: 13 } },
      yAxis: { type: 'value', name: 'requests' },
      series: series.map((s) => ({
        type: 'bar',
        name: s.scenario,
        data: s.requests,
        itemStyle: { color: SERIES_COLOURS[s.scenario] ?? OUR_COLOURS[ours++ % OUR_COLOURS.length] },
        label: { show: true, position: 'top', fontSize: 9 },
        markLine: {
          symbol: 'none',
          lineStyle: { type: 'dashed' },
          label: { formatter: 'mean {c}', fontSize: 9, position: 'end' },
          data: [{ type: 'average', name: 'mean' }],
        },
      })),
    },
  };
}

function maxOverMean(requests: readonly (number | null)[]): number | null {
  const counted = requests.filter((n): n is number => n !== null);
  const mean = counted.reduce((a, b) => a + b, 0) / Math.max(1, counted.length);
  return mean > 0 ? Math.max(...counted) / mean : null;
}
