/**
 * What every chart of the report is: a stable id (the container's `data-chart`), the numbers it plots
 * (`data-values`, so a test can compare them with what the chart instance holds) and an ECharts option
 * that is plain JSON — no formatter functions — because it is embedded in the static page as data.
 */
import type { EChartsOption } from 'echarts';
import type { ReportedScenario } from './scenario-result.ts';

export interface ChartSpec {
  /** Unique on the page; `[a-z0-9-]` only. */
  readonly id: string;
  /** The scenario the chart belongs to, or undefined for charts comparing scenarios. */
  readonly scenario: string | undefined;
  /** One sentence under the chart saying exactly what is plotted. */
  readonly note: string;
  /** The plotted numbers, embedded as the container's `data-values` JSON. */
  readonly values: unknown;
  readonly option: EChartsOption;
  /** Container height in px. */
  readonly heightPx: number;
  /** Takes the page's full width. */
  readonly wide: boolean;
}

export type Pod = ReportedScenario['perPod'][number];

export function chartId(kind: string, scenario: string): string {
  return `${kind}-${scenario.toLowerCase().replace(/[^a-z0-9]+/g, '-')}`;
}

/** Pods ordered by zone, then name: the x axis of every per-pod chart. */
export function byZoneThenName<T extends Pick<Pod, 'pod' | 'zone'>>(pods: readonly T[]): T[] {
  return [...pods].sort((a, b) => a.zone.localeCompare(b.zone) || a.pod.localeCompare(b.pod));
}

/** A pod's axis label: its name's random suffix and its zone, or the full name if suffixes collide. */
export function podLabels(pods: readonly Pick<Pod, 'pod' | 'zone'>[]): string[] {
  const suffixes = pods.map((p) => p.pod.slice(p.pod.lastIndexOf('-') + 1));
  const unique = new Set(suffixes).size === suffixes.length;
  return pods.map((p, i) => `${unique ? suffixes[i] : p.pod}\n${p.zone}`);
}

export function formatNumber(value: number | null | undefined, digits = 2): string {
  return value === null || value === undefined ? 'n/a' : String(Math.round(value * 10 ** digits) / 10 ** digits);
}

export const TITLE = { left: 'center', textStyle: { fontSize: 14 }, subtextStyle: { fontSize: 11 } } as const;
