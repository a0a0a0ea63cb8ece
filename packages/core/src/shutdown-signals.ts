import type { Logger } from './types.js'

/**
 * Opt-in: on each signal, store the running capture (`close()`), then let the signal take its usual course.
 * A process killed by SIGTERM with no handler never emits 'exit', so without this a running capture is lost;
 * but a library that handles signals by default changes how its host shuts down, hence opt-in.
 *
 * Returns the function that removes the handlers.
 */
export function installShutdownSignals(
  signals: readonly NodeJS.Signals[],
  close: () => Promise<void>,
  logger: Logger,
): () => void {
  const installed: { signal: NodeJS.Signals; handler: () => void }[] = []
  const uninstall = () => {
    for (const { signal, handler } of installed) process.off(signal, handler)
  }
  try {
    for (const signal of signals) {
      const handler = (): void => {
        // Decided now, before anything else runs: an application's own once-listener removes itself when it
        // fires, so counting later would wrongly find us alone and kill its graceful shutdown.
        const alone = process.listenerCount(signal) === 0
        close()
          .catch((error: unknown) =>
            logger.error('tripwire: close on signal failed', { signal, error: String(error) }),
          )
          .finally(() => {
            // alone, re-raise so the default action (terminate) happens as if Tripwire had never been there;
            // otherwise the application's handler decides how the process ends
            if (alone) process.kill(process.pid, signal)
          })
      }
      // first in line, so the capture is being stored before the application starts tearing things down
      process.prependOnceListener(signal, handler)
      installed.push({ signal, handler })
    }
  } catch (error) {
    uninstall()
    throw error
  }
  return uninstall
}
