/** The part of autocannon 8's programmatic API that bench/load/load.ts uses (the package ships no types). */
declare module 'autocannon' {
  export interface Options {
    url: string
    connections?: number
    duration?: number
    pipelining?: number
    timeout?: number
    /** ms between samples of the request rate; the load also ends on the first sample past `duration`. */
    sampleInt?: number
    headers?: Record<string, string>
    /** Requests in turn per connection; `setupRequest` may change each one before it is sent. */
    requests?: { setupRequest?: (request: RequestParams) => RequestParams }[]
  }
  export interface RequestParams {
    method?: string
    path?: string
    headers?: Record<string, string>
    body?: string
  }
  interface Histogram {
    average: number
    mean: number
    stddev: number
    min: number
    max: number
    total: number
    p50: number
    p90: number
    p99: number
  }
  interface Result {
    requests: Histogram
    latency: Histogram
    throughput: Histogram
    errors: number
    timeouts: number
    non2xx: number
    duration: number
    '2xx': number
  }
  function autocannon(options: Options): Promise<Result>
  export default autocannon
}
