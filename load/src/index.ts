/** @skewless/load: the open-loop gRPC Echo load generator behind `skewless load`. */

export { CHANNEL_INDEX_OPTION, channelOptions } from './load-channels.ts';
export {
  LOAD_MODES,
  LOAD_OPTIONS,
  LOG_LEVELS,
  type LoadConfig,
  type LoadConfigResult,
  type LoadConfigSources,
  type LoadMode,
  type LoadOption,
  type LogLevel,
  loadConfig,
  MAX_DURATION_S,
  parseLoadConfig,
} from './load-config.ts';
export { type Spread, sameZoneShare, spread } from './load-metrics.ts';
export {
  CLIENT_OVERLOADED,
  type ControlPlaneSummary,
  type LatencySummary,
  type LoadMetrics,
  type LoadResult,
  type PodSummary,
  type TimelinePoint,
  type ZoneRoutingSummary,
} from './load-result.ts';
export { OpenLoopSchedule, type OpenLoopScheduleOptions, type ScheduledRequest } from './open-loop-schedule.ts';
export { type RunLoadOptions, runLoad } from './run-load.ts';
