/**
 * (e) A scenario's load groups side by side: requests per pod for each group that ran at the same time
 * (our client beside a baseline, as in even-distribution, scale-up, slow-pod or a reproduced incident),
 * each group's max/mean in the legend. Only for scenarios whose details carry two or more groups.
 */
import { byZoneThenName, type ChartSpec, chartId, formatNumber, podLabels, TITLE } from './chart-spec.ts';
import type { ReportedScenario } from './scenario-result.ts';

export interface GroupValues {
  readonly pods: string[];
  readonly series: { group: string; client: string; requests: number[]; maxOverMean: number | null }[];
}

const COLOURS: Record<string, string> = { skewless: '#2f7ed8', 'pick-first': '#9c9c9c', 'round-robin': '#f28e2b' };

export function groupsChart(result: ReportedScenario): ChartSpec | undefined {
  const groups = Object.entries(result.details?.groups ?? {});
  if (groups.length < 2) return undefined;
  const seen = new Map<string, { pod: string; zone: string }>();
  for (const [, g] of groups) for (const p of g.perPod) if (!seen.has(p.pod)) seen.set(p.pod, p);
  const pods = byZoneThenName([...seen.values()]);
  const series = groups.map(([group, g]) => ({
    group,
    client: g.client,
    requests: pods.map((p) => g.perPod.find((q) => q.pod === p.pod)?.requests ?? 0),
    maxOverMean: g.metrics.maxOverMean ?? null,
  }));
  const values: GroupValues = { pods: pods.map((p) => p.pod), series };
  return {
    id: chartId('groups', result.scenario),
    scenario: result.scenario,
    note:
      'Requests each pod answered, per load group; the groups ran at the same time against the same pods. ' +
      'Legend: group (client) and its per-pod max/mean.',
    values,
    heightPx: 360,
    wide: true,
    option: {
      title: {
        ...TITLE,
        text: `Requests per pod by load group — ${result.scenario}`,
        subtext: series.map((s) => `${s.group} ${formatNumber(s.maxOverMean, 3)}`).join(' · '),
      },
      tooltip: { trigger: 'axis', axisPointer: { type: 'shadow' } },
      legend: { top: 44 },
      grid: { top: 80, left: 56, right: 24, bottom: 56 },
      xAxis: { type: 'category', data: podLabels(pods), axisLabel: { interval: 0, fontSize: 9, lineHeight: 12 } },
      yAxis: { type: 'value', name: 'requests' },
      series: series.map((s, i) => ({
        type: 'bar',
        name: `${s.group} (${s.client}) max/mean ${formatNumber(s.maxOverMean, 2)}`,
        data: s.requests,
        itemStyle: { color: i === 0 ? (COLOURS[s.client] ?? '#59a14f') : (COLOURS[s.client] ?? '#b07aa1') },
      })),
    },
  };
}
