/**
 * Which zones an existing cluster offers, from its nodes' `topology.kubernetes.io/zone` labels, and
 * whether that is enough for the spec. A zone counts when it has a Ready node that takes pods (not
 * cordoned); the others are reported, not counted. Pure.
 */
import type { V1Node } from '@kubernetes/client-node';

export const ZONE_LABEL = 'topology.kubernetes.io/zone';

export interface ZoneReport {
  readonly zone: string;
  /** Nodes with the label, whatever their state. */
  readonly nodes: readonly string[];
  /** Of those, Ready and schedulable. */
  readonly usable: readonly string[];
}

export interface ZoneSurvey {
  readonly zones: readonly ZoneReport[];
  /** Nodes without a zone label (they never host a zone's pods). */
  readonly unzoned: readonly string[];
}

export function surveyZones(nodes: readonly V1Node[]): ZoneSurvey {
  const byZone = new Map<string, { nodes: string[]; usable: string[] }>();
  const unzoned: string[] = [];
  for (const node of nodes) {
    const name = node.metadata?.name ?? '';
    const zone = node.metadata?.labels?.[ZONE_LABEL];
    if (!zone) {
      unzoned.push(name);
      continue;
    }
    const entry = byZone.get(zone) ?? { nodes: [], usable: [] };
    byZone.set(zone, entry);
    entry.nodes.push(name);
    const ready = node.status?.conditions?.find((c) => c.type === 'Ready')?.status === 'True';
    if (ready && !node.spec?.unschedulable) entry.usable.push(name);
  }
  const zones = [...byZone.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([zone, entry]) => ({ zone, nodes: entry.nodes.sort(), usable: entry.usable.sort() }));
  return { zones, unzoned: unzoned.sort() };
}

/** `zone-a: 2/3 nodes usable, zone-b: 1/1` — for progress lines and errors. */
export function describeZones(survey: ZoneSurvey): string {
  if (survey.zones.length === 0) return `no node has a ${ZONE_LABEL} label (${survey.unzoned.length} nodes without)`;
  const zones = survey.zones.map((z) => `${z.zone}: ${z.usable.length}/${z.nodes.length} nodes usable`).join(', ');
  return survey.unzoned.length > 0 ? `${zones}; ${survey.unzoned.length} nodes without a zone label` : zones;
}

/**
 * The zones to run in: the spec's, each of which must be usable, or — when the spec names none — every
 * usable zone, at least `minZones` of them. Throws naming what is missing and what exists.
 */
export function chooseZones(survey: ZoneSurvey, wanted: readonly string[], minZones: number): string[] {
  const usable = survey.zones.filter((z) => z.usable.length > 0).map((z) => z.zone);
  if (wanted.length > 0) {
    const missing = wanted.filter((zone) => !usable.includes(zone));
    if (missing.length > 0) {
      throw new Error(
        `existing cluster: the spec needs zone(s) ${missing.join(', ')}, which no Ready, schedulable node labelled ` +
          `${ZONE_LABEL} offers (the cluster has ${describeZones(survey)})`,
      );
    }
    return [...wanted];
  }
  if (usable.length < minZones) {
    throw new Error(
      `existing cluster: ${usable.length} usable zone(s), the scenarios need at least ${minZones} ` +
        `(the cluster has ${describeZones(survey)}); label nodes with ${ZONE_LABEL}`,
    );
  }
  return usable;
}
