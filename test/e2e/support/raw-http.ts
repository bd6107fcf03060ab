import { connect } from 'node:net';

export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/**
 * Sends `head` (request line and headers, `\r\n`-separated, without the blank line) byte for byte, so tests
 * can send what HTTP clients refuse to: repeated headers, raw non-ASCII bytes. `body` follows the blank line
 * (the head must then say its `Content-Length`). Reads one response.
 */
export function rawRequest(port: number, head: Buffer | string, body = ''): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    socket.setTimeout(5000, () => socket.destroy(new Error('raw request timed out')));
    socket.on('data', (chunk) => {
      chunks.push(chunk);
      const text = Buffer.concat(chunks).toString('latin1');
      const end = text.indexOf('\r\n\r\n');
      if (end === -1) return;
      const length = /\r\ncontent-length:\s*(\d+)/i.exec(text.slice(0, end));
      if (length && text.length >= end + 4 + Number(length[1])) socket.end();
    });
    socket.on('end', () => resolve(parse(Buffer.concat(chunks).toString('latin1'))));
    socket.on('error', reject);
    socket.write(
      Buffer.concat([
        Buffer.isBuffer(head) ? head : Buffer.from(head, 'latin1'),
        Buffer.from('\r\nConnection: close\r\n\r\n'),
        Buffer.from(body, 'latin1'),
      ]),
    );
  });
}

function parse(text: string): RawResponse {
  const end = text.indexOf('\r\n\r\n');
  const [statusLine, ...lines] = text.slice(0, end).split('\r\n');
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  return { status: Number(statusLine.split(' ')[1]), headers, body: text.slice(end + 4) };
}
