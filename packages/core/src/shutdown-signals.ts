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
  const installed = signals.map((signal) => {
    const handler = (): void => {
      close()
        .catch((error: unknown) =>
          logger.error('tripwire: close on signal failed', { signal, error: String(error) }),
        )
        .finally(() => {
          // if the application listens for this signal too, its own handler decides; otherwise re-raise so the
          // default action (terminate) happens as if Tripwire had never been there
          if (process.listenerCount(signal) === 0) process.kill(process.pid, signal)
        })
    }
    process.once(signal, handler)
    return { signal, handler }
  })
  return () => {
    for (const { signal, handler } of installed) process.off(signal, handler)
  }
}
