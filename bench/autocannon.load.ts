/** One run of load with autocannon, in this process, bounded in time and in count. */
import autocannon, { type AutocannonResult } from 'autocannon';
import { attributeCpu, cpuSnapshot } from './cpu.usage.js';
import type { RunSample, Settings } from './run.model.js';

/** Upper bound on requests in one run, far above what one core serves: every load loop is bounded in count too. */
const MAX_REQUESTS_PER_SECOND = 200_000;

/** What one run sends: a URL, and either one set of headers or one key per connection. */
export interface Route {
  url: string;
  method?: 'GET' | 'POST';
  headers: Record<string, string>;
  body?: string;
  /** Connection i presents `keyPerConnection[i % length]`, so no two requests in flight share a key. */
  keyPerConnection?: readonly string[];
  /** Headers made anew for every request (a DPoP proof), added to `headers`. */
  perRequest?: () => Record<string, string>;
}

/** One run of load against a server, with the server's CPU cost and the machine's other load around it. */
export async function measuredRun(
  serverPid: number | undefined,
  route: Route,
  settings: Settings,
): Promise<RunSample> {
  const before = cpuSnapshot(serverPid);
  const sample = await load(route, settings.durationSec, settings.connections);
  return attributeCpu(sample, before, cpuSnapshot(serverPid));
}

export function load(route: Route, durationSec: number, connections: number): Promise<RunSample> {
  const { url, method, headers, body, keyPerConnection, perRequest } = route;
  let connection = 0;
  return new Promise((resolve, reject) => {
    const watchdog = setTimeout(
      () => {
        instance.stop();
        reject(new Error(`autocannon did not finish ${durationSec} s of load within ${durationSec + 20} s`));
      },
      (durationSec + 20) * 1000,
    );
    const instance = autocannon(
      {
        url,
        connections,
        duration: durationSec,
        maxOverallRequests: Math.max(connections, durationSec * MAX_REQUESTS_PER_SECOND),
        method: method ?? 'GET',
        headers,
        ...(body === undefined ? {} : { body }),
        timeout: 10,
        ...(perRequest
          ? {
              requests: [
                {
                  setupRequest: (request) => ({
                    ...request,
                    headers: { ...request.headers, ...perRequest() },
                  }),
                },
              ],
            }
          : {}),
        ...(keyPerConnection
          ? {
              setupClient: (client) => {
                client.setHeaders({ 'x-api-key': keyPerConnection[connection++ % keyPerConnection.length] });
              },
            }
          : {}),
      },
      (error: Error | null, result: AutocannonResult) => {
        clearTimeout(watchdog);
        if (error) return reject(error);
        const statuses = Object.entries(result.statusCodeStats ?? {})
          .filter(([status]) => !status.startsWith('2'))
          .map(([status, { count }]) => `${count} × ${status}`);
        if (result.errors > 0) statuses.push(`${result.errors} errors`);
        if (result.timeouts > 0) statuses.push(`${result.timeouts} timeouts`);
        resolve({
          reqPerSec: result.requests.average,
          total: result.requests.total,
          ok: result['2xx'],
          latencyP50Ms: result.latency.p50,
          latencyP99Ms: result.latency.p99,
          failures: result.non2xx + result.errors + result.timeouts,
          failureDetail: statuses.join(', '),
          serverCpuUsPerReq: undefined,
          redisCpuUsPerReq: undefined,
          otherCpuCores: undefined,
        });
      },
    );
  });
}
