/** The part of autocannon 9's programmatic API the benchmark uses (the package ships no types). */
declare module 'autocannon' {
  interface AutocannonOptions {
    url: string;
    connections?: number;
    /** Seconds. */
    duration?: number;
    maxOverallRequests?: number;
    /** Default `GET`. */
    method?: string;
    headers?: Record<string, string>;
    /** Sent with every request; autocannon sets `Content-Length`. */
    body?: string;
    /** Seconds to wait for one response. */
    timeout?: number;
    /** Called once per connection (without workers), to give each its own headers. */
    setupClient?: (client: AutocannonClient) => void;
    /** The requests each connection sends in turn; `setupRequest` may rewrite one just before it is sent. */
    requests?: {
      setupRequest?: (request: AutocannonRequest) => AutocannonRequest;
    }[];
  }

  interface AutocannonRequest {
    method?: string;
    path?: string;
    headers?: Record<string, string>;
    body?: string;
  }

  interface AutocannonClient {
    setHeaders(headers: Record<string, string>): void;
  }

  interface Histogram {
    average: number;
    mean: number;
    stddev: number;
    min: number;
    max: number;
    total: number;
    p50: number;
    p99: number;
  }

  interface AutocannonResult {
    requests: Histogram;
    latency: Histogram;
    duration: number;
    errors: number;
    timeouts: number;
    non2xx: number;
    '2xx': number;
    /** Responses per HTTP status code. */
    statusCodeStats?: Record<string, { count: number }>;
  }

  interface AutocannonInstance {
    stop(): void;
  }

  function autocannon(
    options: AutocannonOptions,
    callback: (error: Error | null, result: AutocannonResult) => void,
  ): AutocannonInstance;

  export default autocannon;
  export type { AutocannonOptions, AutocannonResult, AutocannonInstance };
}
