/**
 * Pod annotations → endpoint weight and shard. Pure; a bad value becomes a problem and the default.
 */
import { POD_ANNOTATION } from '@skewless/shared';
import type { TranslateProblem } from './translate-problem.ts';

/** Envoy accepts any weight ≥ 1; we cap at 128 so one pod cannot starve a whole Service. */
export const MAX_WEIGHT = 128;
export const DEFAULT_WEIGHT = 1;

export interface PodEndpointMetadata {
  readonly weight: number;
  readonly shard?: string;
}

/** Annotations of a Pod by namespace and name; undefined when the Pod is unknown (not watched, or gone). */
export type PodAnnotationLookup = (namespace: string, name: string) => Readonly<Record<string, string>> | undefined;

export function readPodAnnotations(
  namespace: string,
  name: string,
  annotations: Readonly<Record<string, string>> | undefined,
  problems: TranslateProblem[],
): PodEndpointMetadata {
  const rawWeight = annotations?.[POD_ANNOTATION.weight];
  let weight = DEFAULT_WEIGHT;
  if (rawWeight !== undefined) {
    const parsed = /^[0-9]{1,3}$/.test(rawWeight) ? Number(rawWeight) : Number.NaN;
    if (parsed >= 1 && parsed <= MAX_WEIGHT) {
      weight = parsed;
    } else {
      problems.push({
        kind: 'Pod',
        path: `${namespace}/${name}.metadata.annotations["${POD_ANNOTATION.weight}"]`,
        message: `not an integer in 1..${MAX_WEIGHT}: "${rawWeight}" (using ${DEFAULT_WEIGHT})`,
      });
    }
  }
  const shard = annotations?.[POD_ANNOTATION.shard];
  return shard ? { weight, shard } : { weight };
}
