/** Sets a header on an Express response or a Fastify reply. */
export function setResponseHeader(response: unknown, name: string, value: string): void {
  if (!response) return;
  const res = response as {
    header?: (name: string, value: string) => unknown;
    setHeader?: (name: string, value: string) => unknown;
  };
  if (typeof res.header === 'function') res.header(name, value);
  else res.setHeader?.(name, value);
}

export function setResponseHeaders(response: unknown, headers: Readonly<Record<string, string>>): void {
  for (const name in headers) setResponseHeader(response, name, headers[name]);
}
