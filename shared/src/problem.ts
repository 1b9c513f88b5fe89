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

/**
 * A schema issue (zod's `{ path, message }`) as a Problem under `root`: keys joined with `.`, indexes in
 * brackets — `spec.zones[1]`, `options.registry`; with an empty root, `routes[0].service`.
 */
export function issueProblem(
  root: string,
  issue: { readonly path: readonly PropertyKey[]; readonly message: string },
): Problem {
  const path = issue.path.reduce<string>(
    (out, key) => (typeof key === 'number' ? `${out}[${key}]` : out ? `${out}.${String(key)}` : String(key)),
    root,
  );
  return { path, message: issue.message };
}
