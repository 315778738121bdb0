/** A Logger that keeps what a run said, for tests to assert on: in order, and by level. */
import type { Logger } from '../../src/report/types'

export interface RecordedLine {
  level: 'info' | 'warning' | 'debug'
  message: string
}

export interface RecordingLogger extends Logger {
  /** Itself, so a test can destructure `{ log, warnings }`. */
  log: Logger
  /** Every info, warning and debug line, in order. */
  lines: RecordedLine[]
  infos: string[]
  warnings: string[]
  debugs: string[]
  /** The secrets the run asked to mask. */
  masked: string[]
}

export function recordingLogger(): RecordingLogger {
  const lines: RecordedLine[] = []
  const infos: string[] = []
  const warnings: string[] = []
  const debugs: string[] = []
  const masked: string[] = []
  const logger: RecordingLogger = {
    lines,
    infos,
    warnings,
    debugs,
    masked,
    info: (message) => void (lines.push({ level: 'info', message }), infos.push(message)),
    warning: (message) => void (lines.push({ level: 'warning', message }), warnings.push(message)),
    debug: (message) => void (lines.push({ level: 'debug', message }), debugs.push(message)),
    group: async (_name, fn) => fn(),
    mask: (secret) => void masked.push(secret),
    get log(): Logger {
      return logger
    },
  }
  return logger
}
