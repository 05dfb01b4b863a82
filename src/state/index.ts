// Per-instance state files (history, status) and the per-instance lock.
export { appendHistory, historyPath, lastHealthy, parseHistory, readHistory, readHistoryFile, HISTORY_FILE, type AppendResult, type HistoryRead } from './history.js';
export { readStatus, statusPath, updateStatus, writeStatus, PHASES, STATUS_FILE, type StatusRead, type WriteStatusOptions } from './status.js';
export { instanceLockOwner, instanceLockPath, withInstanceLock, DEFAULT_LOCK_TIMEOUT_MS, LOCKS_DIR, type InstanceLockOptions, type Lock, type LockOwner } from './lock.js';
