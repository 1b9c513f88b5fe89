/**
 * Spread and locality from the client's own counts. A client only sees pods that answered it: a pod
 * that got nothing is invisible unless the caller names it in `expectedPods`, where it counts as 0.
 */
export interface Spread {
  readonly maxOverMean: number | null;
  readonly cv: number | null;
}

export function spread(countsByPod: ReadonlyMap<string, number>, expectedPods: readonly string[] = []): Spread {
  const pods = new Set([...countsByPod.keys(), ...expectedPods]);
  const counts = [...pods].map((pod) => countsByPod.get(pod) ?? 0);
  if (counts.length === 0) return { maxOverMean: null, cv: null };
  const mean = counts.reduce((a, b) => a + b, 0) / counts.length;
  if (mean === 0) return { maxOverMean: null, cv: null };
  const variance = counts.reduce((a, b) => a + (b - mean) ** 2, 0) / counts.length;
  return { maxOverMean: Math.max(...counts) / mean, cv: Math.sqrt(variance) / mean };
}

/** Share of answers from `zone`; null when the zone is unknown or nothing answered. */
export function sameZoneShare(perZone: Readonly<Record<string, number>>, zone: string | undefined): number | null {
  if (!zone) return null;
  const total = Object.values(perZone).reduce((a, b) => a + b, 0);
  return total > 0 ? (perZone[zone] ?? 0) / total : null;
}
