export { createTripwire, TripwireController } from './controller.js'
export type {
  CaptureHandle,
  CaptureUpdate,
  RefusalCounters,
  TripwireCounters,
  TripwireStatus,
} from './controller.js'
export { createTripwireHttp } from './node-http.js'
export type { RequestDisposition, TripwireHttp } from './node-http.js'
export {
  ERROR_HEADER,
  HeaderTrigger,
  ID_HEADER,
  STATUS_HEADER,
  TRIGGER_HEADER,
  TRIGGER_SCOPE,
} from './trigger/header-trigger.js'
export type {
  AnswerHeaders,
  AnswerHeadersOf,
  HeaderRejection,
  HeaderTriggerStatus,
  TriggerOutcome,
} from './trigger/header-trigger.js'
export type { RouteOf } from './route-of.js'
export { SCOPE_FOR_ACTION } from './admin/admin-auth.js'
export { mintToken } from './auth/token-minter.js'
export { didYouMean } from './did-you-mean.js'
export { sendViewerAsset, sendViewerPage } from './viewer/serve-viewer.js'
export type { ViewerConfig, ViewerPageParts } from './viewer/viewer-page.js'
export type { ViewerAsset } from './admin/admin-routes.js'
export { SourceMapCache } from './source-maps/source-map-cache.js'
export type { SourceMapCacheOptions, SourceMapLookup } from './source-maps/source-map-cache.js'
export { mapCpuProfile, mapHeapProfile } from './source-maps/map-profile.js'
export type { MappedProfile } from './source-maps/map-profile.js'
export type { FrameCounts } from './source-maps/frame-mapper.js'
export { LogHistogram } from './latency/log-histogram.js'
export type { LatencyQuantiles, LogHistogramOptions } from './latency/log-histogram.js'
export { SlidingLatencyWindow } from './latency/sliding-window.js'
export type { SlidingLatencyWindowOptions } from './latency/sliding-window.js'
export { OTHER_ROUTES, RouteLatencyTable, UNMATCHED_ROUTE } from './latency/route-latency.js'
export type { RouteLatencyStats, RouteLatencyTableOptions } from './latency/route-latency.js'
export type { RuleState, RuleStatus } from './automatic/automatic-triggers.js'
export type { MintTokenOptions } from './auth/token-minter.js'
export { algorithmsForKey, ASYMMETRIC_ALGORITHMS, HMAC_ALGORITHMS } from './auth/key-set.js'
export type { JwtAlgorithm, KeyOption, PublicKeyOption, SecretKeyOption } from './auth/key-set.js'
export { createAdminHandler } from './admin/admin-handler.js'
export type { AdminAddress } from './admin/admin-listener.js'
export type { AdminHandler } from './admin/admin-handler.js'
export { ErrorCodes, TripwireError, isTripwireError } from './errors.js'
export type { ErrorCode } from './errors.js'
export { CAPTURE_ID_PATTERN, assertCaptureId, createCaptureId, isCaptureId } from './capture-id.js'
export { CAPTURE_KINDS, captureFileName, isCaptureKind } from './capture-kinds.js'
export { HARD_MAX_DURATION_MS } from './config.js'
export { defaultCpuIntervalUs, DEFAULT_WINDOW_SAMPLES } from './cpu-interval.js'
export { LocalDiskSink } from './sinks/local-disk.js'
export type {
  LocalDiskFileHandle,
  LocalDiskFileSystem,
  LocalDiskRetention,
  LocalDiskSinkOptions,
} from './sinks/local-disk.js'
export { summarizeCpuProfile } from './formats/cpu-summary.js'
export type { CpuSummary, FunctionTime } from './formats/cpu-summary.js'
export { summarizeHeapProfile } from './formats/heap-summary.js'
export type { FunctionAllocation, HeapSummary } from './formats/heap-summary.js'
export type { CpuProfile, HeapProfile, HeapProfileNode } from './formats/v8-profiles.js'
export { cpuProfileToPprof } from './formats/cpu-pprof.js'
export type { CpuPprofOptions } from './formats/cpu-pprof.js'
export { heapProfileToPprof } from './formats/heap-pprof.js'
export type { HeapPprofOptions } from './formats/heap-pprof.js'
export { encodePprofGzip } from './formats/pprof-encode.js'
export { assertPprofConvertible, convertCapture, pprofFileName } from './formats/convert.js'
export type { ConvertOptions } from './formats/convert.js'
export { GC_PRESSURE_SHARE, MOSTLY_IDLE_SHARE, renderTop, topFunctions } from './formats/top.js'
export type { TopFunction, TopOptions } from './formats/top.js'
export type {
  CaptureErrorInfo,
  AuditEvent,
  AuditRefusalSource,
  AuditStatus,
  CaptureKind,
  CaptureMeta,
  CaptureMode,
  CaptureRequestInfo,
  CaptureRequested,
  CaptureSampling,
  CaptureSloInfo,
  CaptureStatus,
  CaptureTrigger,
  AdminAction,
  AdminOptions,
  AutomaticTriggerOptions,
  EventLoopTriggerOptions,
  FireCapOptions,
  HeapPressureTriggerOptions,
  SloRuleOptions,
  TriggerCaptureOptions,
  CpuOptions,
  HeapOptions,
  HeapSnapshotOptions,
  LimitsOptions,
  Logger,
  Sink,
  SinkListPage,
  SinkListQuery,
  StartCaptureRequest,
  StoredCapture,
  TokenOptions,
  TriggerType,
  TripwireOptions,
} from './types.js'
