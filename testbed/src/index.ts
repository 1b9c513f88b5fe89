// Curated public API of the testbed: each part appends its exports here.

export { freePort } from './apiserver/free-port.ts';
export { type LocalApiServer, type LocalApiServerOptions, startLocalApiServer } from './apiserver/local-apiserver.ts';
export {
  type ExitStatus,
  type ProcessGroup,
  type ProcessGroupOptions,
  signalGroup,
  startProcessGroup,
} from './apiserver/process-group.ts';
export { toolPath } from './apiserver/tool-path.ts';
export { type WaitReadyOptions, waitReady } from './apiserver/wait-ready.ts';
export {
  BACKEND_OPTIONS,
  type BackendConfig,
  type BackendConfigResult,
  type BackendConfigSources,
  type BackendOption,
  backendConfig,
  loadBackendConfig,
} from './backend/backend-config.ts';
export {
  DEFAULT_FAULTS,
  ERROR_CODE_NAMES,
  type ErrorCodeName,
  type FaultSettings,
  warmupExtraMs,
} from './backend/backend-faults.ts';
export { type EchoServerOptions, type StartedEchoServer, startEchoServer } from './backend/echo-server.ts';
export {
  type BackendOptions,
  type BackendPhase,
  type DrainOutcome,
  type StartedBackend,
  startBackend,
} from './backend/instrumented-backend.ts';
export { sweepClusters } from './cluster/cluster-leftovers.ts';
export { type ClusterNetwork, type NodeNetwork, planClusterNetwork } from './cluster/cluster-network.ts';
export {
  type ClusterDriver,
  type ClusterSpec,
  type ConfiguredCluster,
  DEFAULT_ZONES,
  type StartedCluster,
} from './cluster/driver.ts';
export {
  type ConfiguredExistingCluster,
  type ExistingClusterDriver,
  existingClusterDriver,
  type StartedExistingCluster,
} from './cluster/existing/existing-driver.ts';
export { CONFIRM_FLAG, DEFAULT_PRODUCTION_PATTERN } from './cluster/existing/existing-guard.ts';
export { type KustomizeImage, kustomizeImages } from './cluster/existing/existing-images.ts';
export { DEFAULT_NAMESPACES, type ExistingClusterOptions } from './cluster/existing/existing-options.ts';
export { dockerEngine, sweepK3sClusters } from './cluster/k3s/k3s-docker.ts';
export {
  type ConfiguredK3sCluster,
  type K3sClusterDriver,
  k3sClusterDriver,
  type StartedK3sCluster,
} from './cluster/k3s/k3s-driver.ts';
export { defaultK3sImage, type K3sClusterOptions } from './cluster/k3s/k3s-options.ts';
export { type KindClusterOptions, kindClusterDriver } from './cluster/kind/kind-driver.ts';
export { defaultClusterParent, type LocalClusterOptions, localClusterDriver } from './cluster/local-cluster.ts';
export {
  DOCKER_BRIDGE_PREFIX,
  type DockerEngine,
  type DockerEngineOptions,
  startDockerEngine,
  stopKeptDockerEngine,
} from './docker/docker-engine.ts';
export { type EnvoyCluster, type EnvoyHost, envoyClusters, envoyStats } from './envoy/envoy-admin.ts';
export { type AdsApiType, type EnvoyAdsBootstrapOptions, envoyAdsBootstrap } from './envoy/envoy-bootstrap.ts';
export { type EnvoyOptions, type StartedEnvoy, startEnvoy } from './envoy/envoy-process.ts';
export { makeServingCert, type ServingCert, type ServingCertOptions } from './envoy/serving-cert.ts';
export { IMAGE_TABLE, imageRepository, resolveCommand } from './node-agent/image-table.ts';
export {
  EXEC_UNSUPPORTED,
  HealthClients,
  type ProbeAttempt,
  type ProbeClock,
  type ProbeKind,
  type ProbeOnceOptions,
  type ProbeOutcome,
  type ProbeResult,
  ProbeWorker,
  type ProbeWorkerOptions,
  realProbeClock,
  runProbeOnce,
} from './node-agent/probes.ts';
export { pinnedVersion } from './pinned-versions.ts';
export { type LocalRegistryOptions, type StartedLocalRegistry, startLocalRegistry } from './registry/local-registry.ts';
