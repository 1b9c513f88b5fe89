export { type ClusterSession, type EchoPod, NAMESPACE, openClusterSession } from './cluster-session.ts';
export { type E2eOptions, NOT_YET, runE2e, runSuite, type SuiteOptions, scenarioDir } from './e2e-run.ts';
export {
  parseScenarioFile,
  readScenarioDir,
  readScenarioFile,
  type ScenarioFile,
  ScenarioFileError,
} from './scenario-file.ts';
export { type Assertion, type ScenarioResult, summarize } from './scenario-metrics.ts';
export { runScenario } from './scenario-runner.ts';
