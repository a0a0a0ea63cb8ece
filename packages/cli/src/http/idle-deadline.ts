/** The abort reason when nothing arrived in time; told apart from every other failure by its type. */
export class TimedOut extends Error {
  override readonly name = 'TimedOut'

  constructor(readonly seconds: number) {
    super(`nothing arrived within ${seconds} s`)
  }
}

/**
 * An abort signal that fires after `seconds` without progress: waiting for the answer, and then between two
 * chunks of its body. A whole-exchange timeout (`AbortSignal.timeout`) would cut a large profile on a slow
 * link while its bytes still flow; this one only cuts a service or a link that has stopped.
 */
export class IdleDeadline {
  private readonly controller = new AbortController()
  private timer: NodeJS.Timeout

  constructor(readonly seconds: number) {
    this.timer = this.arm()
  }

  get signal(): AbortSignal {
    return this.controller.signal
  }

  /** Something arrived: the wait starts again. */
  touch(): void {
    clearTimeout(this.timer)
    this.timer = this.arm()
  }

  /** The exchange is over; a pending timer would otherwise keep the process alive. */
  clear(): void {
    clearTimeout(this.timer)
  }

  private arm(): NodeJS.Timeout {
    return setTimeout(() => this.controller.abort(new TimedOut(this.seconds)), this.seconds * 1000)
  }
}
