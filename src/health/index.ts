// Health checks (HTTP, TCP, command) and the wait for an instance to turn healthy.
export { waitHealthy, healthTarget, livenessOf, probeOnce, DEFAULT_HEALTH_INTERVAL, DEFAULT_HEALTH_TIMEOUT, DEFAULT_TRY_TIMEOUT_MS, type HealthResult, type HealthTarget, type Liveness, type WaitHealthyOptions } from './check.js';
export { abortError, isAbortError, connectHost, probeExec, probeHttp, probeTcp, type ProbeOptions, type ProbeResult } from './probes.js';
export { describeHealth, describeCheck, healthCheckOf } from '../shared/health-check.js';
