/**
 * One thing wrong with an input, and where: the shape every validator in Skewless returns
 * (config, EndpointSlices, ClusterLoadAssignments). Validators collect all of them, never just the
 * first, so a bad input is fixed in one round.
 */
export interface Problem {
  /** Where, as a field path: `ingress.routes[0].service`, `endpoints[2].lb_endpoints[0].endpoint.address`. */
  readonly path: string;
  readonly message: string;
}

/** One problem per line, indented: for error messages and logs read by people. */
export function formatProblemList(problems: readonly Problem[], indent = '  '): string {
  return problems.map((p) => `${indent}${p.path}: ${p.message}`).join('\n');
}
