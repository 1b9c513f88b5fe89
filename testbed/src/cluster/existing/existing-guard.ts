/**
 * The production guard: scenarios delete pods, restart and scale Deployments and drive load, so the
 * `existing` driver refuses a context whose context name, cluster name or server URL looks like
 * production, unless the user names that exact context to confirm. Pure: tested without a cluster.
 */

/** Matches `prod`, `production` and `prd` anywhere: a false alarm costs one flag, a miss costs an outage. */
export const DEFAULT_PRODUCTION_PATTERN = /prod|prd/i;

export interface ContextIdentity {
  readonly context: string;
  readonly cluster: string;
  readonly server: string;
}

export type GuardResult =
  | { readonly ok: true; readonly looksLikeProduction: boolean }
  | { readonly ok: false; readonly message: string };

/** The confirmation flag as users type it (the CLI's `--confirm-context`). */
export const CONFIRM_FLAG = '--confirm-context';

export function productionGuard(
  identity: ContextIdentity,
  pattern: RegExp,
  confirmContext: string | undefined,
): GuardResult {
  if (confirmContext !== undefined && confirmContext !== identity.context) {
    return {
      ok: false,
      message:
        `${CONFIRM_FLAG} names context "${confirmContext}", but the context in use is "${identity.context}": ` +
        'the confirmation must name the exact context it confirms',
    };
  }
  const matches = (
    [
      ['context name', identity.context],
      ['cluster name', identity.cluster],
      ['server', identity.server],
    ] as const
  ).filter(([, value]) => new RegExp(pattern.source, pattern.flags.replace('g', '')).test(value));
  if (matches.length === 0) return { ok: true, looksLikeProduction: false };
  if (confirmContext === identity.context) return { ok: true, looksLikeProduction: true };
  const why = matches.map(([what, value]) => `${what} "${value}"`).join(', ');
  return {
    ok: false,
    message:
      `refusing to run against context "${identity.context}" (cluster "${identity.cluster}", server ${identity.server}): ` +
      `its ${why} ${matches.length > 1 ? 'match' : 'matches'} ${pattern}, so it looks like production. ` +
      `The scenarios delete pods, restart Deployments and drive load. If this is really meant, confirm with ` +
      `${CONFIRM_FLAG} ${identity.context}`,
  };
}
