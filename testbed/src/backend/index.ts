// The backend alone, for the `skewless backend` command: pods load only what they run, not the
// testbed's cluster drivers and @kubernetes/client-node (which would cost each pod ~100 MB).
export {
  BACKEND_OPTIONS,
  type BackendConfig,
  type BackendConfigResult,
  type BackendConfigSources,
  type BackendOption,
  backendConfig,
  loadBackendConfig,
} from './backend-config.ts';
export {
  type BackendOptions,
  type BackendPhase,
  type DrainOutcome,
  type StartedBackend,
  startBackend,
} from './instrumented-backend.ts';
