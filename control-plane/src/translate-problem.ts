/**
 * One thing wrong with one Kubernetes object, found while translating it. Translation never throws:
 * it reports every problem with the path of the offending field and skips only the bad part.
 */
import type { Problem } from '@skewless/shared';

export interface TranslateProblem extends Problem {
  readonly kind: 'EndpointSlice' | 'Pod';
  /** `<namespace>/<name>.<field path>`, e.g. `default/backend-abc12.endpoints[2].addresses[0]`. */
  readonly path: string;
  /** Of the offending object when known, so a problem is logged once per object version. */
  readonly resourceVersion?: string;
}
