/**
 * The benchmark's HTTP/1.1, on raw sockets so neither end costs more than the proxies it measures:
 * fixed requests and responses with a 1 KiB body, and an incremental parser that finds message
 * boundaries from `Content-Length` (the only framing either side uses).
 */
export const BODY_SIZE = 1024;

const body = Buffer.alloc(BODY_SIZE, 0x61);

/** A keep-alive POST with a 1 KiB body. */
export const REQUEST = Buffer.concat([
  Buffer.from(`POST /echo HTTP/1.1\r\nHost: server\r\nContent-Length: ${BODY_SIZE}\r\n\r\n`, 'latin1'),
  body,
]);

/** A GET that asks the server to close after answering (the new-connection test). */
export const REQUEST_CLOSE = Buffer.from(
  'GET /ping HTTP/1.1\r\nHost: server\r\nConnection: close\r\n\r\n',
  'latin1',
);

export const RESPONSE = Buffer.concat([
  Buffer.from(
    `HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: ${BODY_SIZE}\r\n\r\n`,
    'latin1',
  ),
  body,
]);

export const RESPONSE_CLOSE = Buffer.concat([
  Buffer.from(`HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: ${BODY_SIZE}\r\n\r\n`, 'latin1'),
  body,
]);

const CRLFCRLF = Buffer.from('\r\n\r\n', 'latin1');
const CONTENT_LENGTH = /\r\ncontent-length:\s*(\d+)/i;
const CLOSE = /\r\nconnection:\s*close/i;

/**
 * Splits a byte stream into HTTP/1.1 messages (requests or responses with Content-Length or none).
 * `push` returns how many complete messages the chunk finished; `closeAsked` tells whether the last
 * one carried `Connection: close`.
 */
export class MessageSplitter {
  private buf: Buffer | undefined;
  /** Body bytes still to skip of the current message (-1: reading the head). */
  private bodyLeft = -1;
  closeAsked = false;

  push(chunk: Buffer): number {
    let done = 0;
    let data = this.buf ? Buffer.concat([this.buf, chunk]) : chunk;
    this.buf = undefined;
    for (;;) {
      if (this.bodyLeft >= 0) {
        if (data.length < this.bodyLeft) {
          this.bodyLeft -= data.length;
          return done;
        }
        data = data.subarray(this.bodyLeft);
        this.bodyLeft = -1;
        done++;
      }
      if (data.length === 0) return done;
      const end = data.indexOf(CRLFCRLF);
      if (end < 0) {
        this.buf = data;
        return done;
      }
      const head = data.toString('latin1', 0, end);
      const m = CONTENT_LENGTH.exec(head);
      this.closeAsked = CLOSE.test(head);
      this.bodyLeft = m ? Number(m[1]) : 0;
      data = data.subarray(end + 4);
    }
  }
}
