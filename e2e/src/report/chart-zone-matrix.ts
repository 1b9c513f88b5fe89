/**
 * (b) Where each zone's requests went: a heat map of the client's zone (rows) by the answering pod's
 * zone (columns). A cell the results leave out is a real zero: perZone lists only zones that answered.
 */
import { type ChartSpec, chartId, formatNumber, TITLE } from './chart-spec.ts';
import type { ReportedScenario } from './scenario-result.ts';

export interface ZoneMatrixValues {
  readonly fromZones: string[];
  readonly toZones: string[];
  /** rows[i][j]: requests from fromZones[i] answered in toZones[j]. */
  readonly rows: number[][];
}

export function zoneMatrixChart(result: ReportedScenario): ChartSpec | undefined {
  const fromZones = Object.keys(result.perZone).sort();
  if (fromZones.length === 0) return undefined;
  const zones = [...new Set([...fromZones, ...fromZones.flatMap((z) => Object.keys(result.perZone[z] ?? {}))])].sort();
  const rows = zones.map((from) => zones.map((to) => result.perZone[from]?.[to] ?? 0));
  const values: ZoneMatrixValues = { fromZones: zones, toZones: zones, rows };
  const max = Math.max(1, ...rows.flat());
  const share = result.metrics['sameZoneShare'];
  return {
    id: chartId('zones', result.scenario),
    scenario: result.scenario,
    note: 'Requests by the client’s zone (rows) and the answering pod’s zone (columns); the diagonal stays in its zone.',
    values,
    heightPx: 340,
    wide: false,
    option: {
      title: {
        ...TITLE,
        text: `Zone matrix — ${result.scenario}`,
        subtext: `same-zone share ${share === null || share === undefined ? 'n/a' : `${formatNumber(share * 100, 1)} %`}`,
      },
      tooltip: { position: 'top' },
      grid: { top: 64, left: 72, right: 72, bottom: 48 },
      xAxis: { type: 'category', data: zones, name: 'answered in', nameLocation: 'middle', nameGap: 28 },
      yAxis: { type: 'category', data: zones, name: 'from', nameLocation: 'middle', nameGap: 56, inverse: true },
      visualMap: {
        min: 0,
        max,
        calculable: true,
        orient: 'vertical',
        right: 0,
        top: 'middle',
        itemHeight: 120,
        inRange: { color: ['#f7fbff', '#6baed6', '#08306b'] },
      },
      series: [
        {
          type: 'heatmap',
          name: 'requests',
          data: rows.flatMap((row, y) => row.map((n, x) => [x, y, n])),
          label: { show: true },
          itemStyle: { borderColor: '#fff', borderWidth: 1 },
        },
      ],
    },
  };
}
