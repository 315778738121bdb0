import type { Logger } from './types'

/**
 * A logger that holds its lines until replayTo(), then passes them on: the trusted root loads
 * while other groups print, and its lines belong in its own group.
 */
export function deferredLogger(): Logger & { replayTo(log: Logger): void } {
  let target: Logger | undefined
  const held: [keyof Pick<Logger, 'info' | 'warning' | 'debug'>, string][] = []
  const line =
    (level: 'info' | 'warning' | 'debug') =>
    (message: string): void => {
      if (target) target[level](message)
      else held.push([level, message])
    }
  return {
    info: line('info'),
    warning: line('warning'),
    debug: line('debug'),
    group: async (_name, fn) => fn(),
    replayTo(log: Logger): void {
      target = log
      for (const [level, message] of held.splice(0)) log[level](message)
    },
  }
}
