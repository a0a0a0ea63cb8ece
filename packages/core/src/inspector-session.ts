import type * as Inspector from 'node:inspector'
import type { Session } from 'node:inspector'
import { ErrorCodes, TripwireError } from './errors.js'

type InspectorModule = typeof Inspector

/** The default per-command timeout; profiling commands answer in milliseconds. */
const COMMAND_TIMEOUT_MS = 30_000

let inspectorModule: Promise<InspectorModule> | undefined

/**
 * Loads `node:inspector` once, lazily: on a Node built without the inspector the module throws
 * ERR_INSPECTOR_NOT_AVAILABLE when it is loaded, so it is never imported statically.
 */
function loadInspector(): Promise<InspectorModule> {
  inspectorModule ??= (async () => {
    if (!process.features.inspector) {
      throw new TripwireError(
        ErrorCodes.INSPECTOR_UNAVAILABLE,
        'profiling is unavailable: this Node.js was built without the inspector',
      )
    }
    try {
      return await import('node:inspector')
    } catch (error) {
      throw new TripwireError(
        ErrorCodes.INSPECTOR_UNAVAILABLE,
        `profiling is unavailable: ${(error as Error).message}`,
        {
          cause: error,
        },
      )
    }
  })()
  return inspectorModule
}

/**
 * One in-process inspector session, owned by one capture. The callback API is used underneath: on a
 * same-thread session its callback runs synchronously inside `post()`, and `node:inspector/promises` is
 * still experimental. Disconnecting stops whatever the session started, so `dispose()` is the safety net.
 */
export class InspectorSession {
  private disposed = false

  private constructor(private readonly session: Session) {}

  static async open(): Promise<InspectorSession> {
    const { Session } = await loadInspector()
    const session = new Session()
    try {
      session.connect()
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code
      const hint = code === 'ERR_ACCESS_DENIED' ? permissionHint() : ''
      throw new TripwireError(
        ErrorCodes.INSPECTOR_UNAVAILABLE,
        `profiling is unavailable: the inspector refused a session: ${(error as Error).message}${hint}`,
        { cause: error },
      )
    }
    return new InspectorSession(session)
  }

  /** Opens a session and runs `prepare` on it; the session is disconnected if `prepare` fails. */
  static async openWith(prepare: (session: InspectorSession) => Promise<void>): Promise<InspectorSession> {
    const session = await InspectorSession.open()
    try {
      await prepare(session)
    } catch (error) {
      session.dispose()
      throw error
    }
    return session
  }

  /** Sends one command; rejects with ERR_TRIPWIRE_INSPECTOR_FAILED on an error answer or a timeout. */
  post<T = unknown>(method: string, params?: object, timeoutMs = COMMAND_TIMEOUT_MS): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(
          new TripwireError(ErrorCodes.INSPECTOR_FAILED, `${method} did not answer within ${timeoutMs} ms`),
        )
      }, timeoutMs)
      timer.unref()
      const post = this.session.post.bind(this.session) as (
        method: string,
        params: object | undefined,
        callback: (error: Error | null, result?: unknown) => void,
      ) => void
      try {
        post(method, params, (error, result) => {
          clearTimeout(timer)
          if (error) reject(inspectorError(method, error))
          else resolve(result as T)
        })
      } catch (error) {
        clearTimeout(timer)
        reject(inspectorError(method, error))
      }
    })
  }

  on(event: string, listener: (message: { params: unknown }) => void): void {
    this.session.on(event, listener)
  }

  off(event: string, listener: (message: { params: unknown }) => void): void {
    this.session.off(event, listener)
  }

  /** Idempotent; never throws. */
  dispose(): void {
    if (this.disposed) return
    this.disposed = true
    try {
      this.session.disconnect()
    } catch {
      // already disconnected: nothing left to release
    }
  }
}

/** `--allow-inspector` exists from Node 24 on; older lines cannot combine the permission model with profiling. */
function permissionHint(): string {
  const major = Number(process.versions.node.split('.')[0])
  return major >= 24
    ? ' (the permission model is on: start Node with --allow-inspector to allow profiling)'
    : ` (the permission model is on, and Node ${process.versions.node} cannot allow the inspector under it: ` +
        'profiling needs Node 24+ with --allow-inspector, or no permission model)'
}

function inspectorError(method: string, error: unknown): TripwireError {
  const message = error instanceof Error ? error.message : String(error)
  return new TripwireError(ErrorCodes.INSPECTOR_FAILED, `${method} failed: ${message}`, { cause: error })
}
