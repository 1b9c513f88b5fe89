/**
 * (c) Requests per second through the scenario, with the rollout's start and end marked when the
 * scenario recorded them. Per-pod lines when the timeline keeps requests per pod; otherwise the total
 * and the errors per second, which is all `ScenarioResult.timeline` holds today.
 */
import { type ChartSpec, chartId, TITLE } from './chart-spec.ts';
import type { ReportedScenario } from './scenario-result.ts';

export interface TimelineValues {
  readonly perPod: boolean;
  /** Each series as [t, requests that ended in second t] points. */
  readonly series: { name: string; points: [number, number][] }[];
  readonly markers: { name: string; t: number }[];
}

const ERRORS_COLOUR = '#d62728';

export function timelineChart(result: ReportedScenario): ChartSpec | undefined {
  const timeline = [...result.timeline].sort((a, b) => a.t - b.t);
  if (timeline.length === 0) return undefined;
  const perPod = timeline.some((point) => point.perPod !== undefined);
  const errors = { name: 'errors/s', points: timeline.map((p): [number, number] => [p.t, p.errors]) };
  const series = perPod
    ? [
        ...podsInOrderOfAppearance(timeline).map((pod) => ({
          name: pod,
          points: timeline.map((p): [number, number] => [p.t, p.perPod?.[pod] ?? 0]),
        })),
        errors,
      ]
    : [{ name: 'requests/s', points: timeline.map((p): [number, number] => [p.t, p.requests]) }, errors];
  const { rolloutS, rolloutStartS, rolloutEndS } = result.details ?? {};
  const markers = [
    ...(rolloutStartS === undefined ? [] : [{ name: 'rollout start', t: rolloutStartS }]),
    ...(rolloutEndS === undefined ? [] : [{ name: 'rollout done', t: rolloutEndS }]),
  ];
  const values: TimelineValues = { perPod, series, markers };
  const rollout =
    rolloutS === undefined
      ? ''
      : ` · rollout took ${rolloutS} s${markers.length === 0 ? ' (its start was not recorded: no markers)' : ''}`;
  return {
    id: chartId('timeline', result.scenario),
    scenario: result.scenario,
    note: perPod
      ? 'Requests each pod answered per second, stacked (the top edge is the total), summed over the load pods (t counts from each load pod’s start); failed requests per second dotted.'
      : 'Requests and failed requests per second, summed over the load pods (t counts from each load pod’s start); the results keep no per-pod timeline.',
    values,
    heightPx: perPod ? 400 : 320,
    wide: perPod,
    option: {
      title: {
        ...TITLE,
        text: `Requests/s — ${result.scenario}`,
        subtext: `${perPod ? 'per pod, stacked' : 'total'}${rollout}`,
      },
      tooltip: { trigger: 'axis' },
      legend: perPod ? { type: 'scroll', orient: 'vertical', right: 8, top: 56, bottom: 16 } : { top: 44 },
      grid: { top: 84, left: 56, right: perPod ? 240 : 40, bottom: 40 },
      xAxis: {
        type: 'value',
        name: 't (s)',
        minInterval: 1,
        min: 0,
        max: Math.max(timeline.at(-1)?.t ?? 0, ...markers.map((m) => m.t)),
      },
      yAxis: { type: 'value', name: 'requests/s' },
      series: series.map((s, i) => ({
        type: 'line',
        name: s.name,
        data: s.points,
        showSymbol: false,
        ...(s === errors
          ? { itemStyle: { color: ERRORS_COLOUR }, lineStyle: { type: 'dotted' } }
          : perPod
            ? { stack: 'pods', areaStyle: { opacity: 0.55 }, lineStyle: { width: 1 } }
            : {}),
        ...(i === 0 && markers.length > 0
          ? {
              markLine: {
                symbol: 'none',
                silent: true,
                lineStyle: { color: '#333', type: 'dashed' },
                label: { formatter: '{b}', position: 'end' },
                data: markers.map((m) => ({ name: m.name, xAxis: m.t })),
              },
            }
          : {}),
      })),
    },
  };
}

/** Pods by the second they first answered, then by name: old pods first, their replacements after. */
function podsInOrderOfAppearance(timeline: readonly ReportedScenario['timeline'][number][]): string[] {
  const first = new Map<string, number>();
  for (const point of timeline)
    for (const [pod, n] of Object.entries(point.perPod ?? {})) if (n > 0 && !first.has(pod)) first.set(pod, point.t);
  return [...first].sort(([a, ta], [b, tb]) => ta - tb || a.localeCompare(b)).map(([pod]) => pod);
}
