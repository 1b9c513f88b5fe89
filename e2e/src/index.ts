export {
  type Assertion,
  CLUSTER_SCENARIOS,
  type Scenario,
  type ScenarioResult,
  summarize,
} from './cluster-scenarios.ts';
export { type ClusterSession, type EchoPod, NAMESPACE, openClusterSession } from './cluster-session.ts';
export { type E2eOptions, NOT_YET, runE2e } from './e2e-run.ts';
