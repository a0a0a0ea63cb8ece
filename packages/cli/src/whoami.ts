import { hostname, userInfo } from 'node:os'

/**
 * `user@host`, the default `sub` of a token: it lands in capture metadata, so an audit can tell who profiled.
 * `userInfo()` throws for a uid without a passwd entry (common in containers); the environment is the fallback.
 */
export function defaultSubject(env: NodeJS.ProcessEnv): string {
  let user: string | undefined
  try {
    user = userInfo().username
  } catch {
    user = env.USER ?? env.LOGNAME ?? env.USERNAME
  }
  return `${user || 'unknown'}@${hostname()}`
}
