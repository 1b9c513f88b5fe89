/**
 * Every chart of the report, in page order: the baseline-vs-ours comparison, then for each scenario its
 * load groups side by side, zone matrix, latency and requests/s timeline. A chart whose data a scenario lacks is left out.
 */

import { groupsChart } from './chart-groups.ts';
import { latencyChart } from './chart-latency.ts';
import { podRequestsChart } from './chart-pod-requests.ts';
import type { ChartSpec } from './chart-spec.ts';
import { timelineChart } from './chart-timeline.ts';
import { zoneMatrixChart } from './chart-zone-matrix.ts';
import type { ReportedScenario } from './scenario-result.ts';

export function reportCharts(scenarios: readonly ReportedScenario[]): ChartSpec[] {
  const charts = [
    podRequestsChart(scenarios),
    ...scenarios.flatMap((s) => [groupsChart(s), zoneMatrixChart(s), latencyChart(s), timelineChart(s)]),
  ];
  return charts.filter((c): c is ChartSpec => c !== undefined);
}
