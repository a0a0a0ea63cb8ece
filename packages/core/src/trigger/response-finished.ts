import type { ServerResponse } from 'node:http'

/**
 * Calls `done` once, when the response has been written (`finish`), the connection went away first (`close`),
 * or the response failed (`error`). Every listener is removed afterwards.
 */
export function onResponseFinished(res: ServerResponse, done: () => void): void {
  if (res.writableFinished || res.destroyed) {
    done()
    return
  }
  const finished = (): void => {
    res.off('finish', finished)
    res.off('close', finished)
    res.off('error', finished)
    done()
  }
  res.on('finish', finished)
  res.on('close', finished)
  res.on('error', finished)
}
