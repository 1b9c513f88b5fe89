/**
 * (d) Latency percentiles per pod: p50 and p99 bars. A pod's percentile is the worst over the load pods
 * that reached it (how `summarize` combines them); pods that answered nothing have no bar.
 */
import { byZoneThenName, type ChartSpec, chartId, podLabels, TITLE } from './chart-spec.ts';
import type { ReportedScenario } from './scenario-result.ts';

export interface LatencyValues {
  readonly pods: string[];
  readonly p50Ms: (number | null)[];
  readonly p99Ms: (number | null)[];
}

export function latencyChart(result: ReportedScenario): ChartSpec | undefined {
  if (!result.perPod.some((p) => p.p50Ms !== null || p.p99Ms !== null)) return undefined;
  const pods = byZoneThenName(result.perPod);
  const values: LatencyValues = {
    pods: pods.map((p) => p.pod),
    p50Ms: pods.map((p) => p.p50Ms),
    p99Ms: pods.map((p) => p.p99Ms),
  };
  return {
    id: chartId('latency', result.scenario),
    scenario: result.scenario,
    note: 'p50 and p99 latency per pod in ms, from the scheduled send time (the worst of the load pods that reached it).',
    values,
    heightPx: 340,
    wide: pods.length > 12,
    option: {
      title: { ...TITLE, text: `Latency per pod — ${result.scenario}`, subtext: 'p50 / p99, ms' },
      tooltip: { trigger: 'axis', axisPointer: { type: 'shadow' } },
      legend: { top: 44 },
      grid: { top: 80, left: 56, right: 24, bottom: 48 },
      xAxis: { type: 'category', data: podLabels(pods), axisLabel: { interval: 0, fontSize: 9, lineHeight: 12 } },
      yAxis: { type: 'value', name: 'ms' },
      series: [
        { type: 'bar', name: 'p50', data: values.p50Ms, itemStyle: { color: '#76b7b2' } },
        { type: 'bar', name: 'p99', data: values.p99Ms, itemStyle: { color: '#e15759' } },
      ],
    },
  };
}
