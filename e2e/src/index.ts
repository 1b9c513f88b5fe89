export { type ClusterSession, type EchoPod, NAMESPACE, openClusterSession } from './cluster-session.ts';
export { type E2eOptions, runE2e, runSuite, type SuiteOptions, scenarioDir } from './e2e-run.ts';
export type {
  EnvoyIngressStats,
  EnvoyUpstreamCluster,
  EnvoyUpstreamHost,
  XdsUpdates,
} from './envoy-ingress-stats.ts';
export { ENVOY_INGRESS, ensureEnvoyIngress, envoyStats, type K6Spec, runK6, runK6Group } from './k6-ingress.ts';
export { type K6LoadResult, k6LoadResult, parseK6Summary } from './k6-summary.ts';
export {
  parseScenarioFile,
  readScenarioDir,
  readScenarioFile,
  type ScenarioFile,
  ScenarioFileError,
} from './scenario-file.ts';
export { type Assertion, type ScenarioResult, summarize } from './scenario-metrics.ts';
export { runScenario } from './scenario-runner.ts';
