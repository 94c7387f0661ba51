import type { ServerResponse } from 'node:http';

/** What a camera sees, as JPEGs for browsers: an MJPEG stream and the latest snapshot. */
export interface Preview {
  /** ffmpeg output arguments writing JPEGs to `pipe:<fd>`. */
  outputArgs(fd: number): string[];
  /** A new ffmpeg session's JPEG pipe; read to the end, whoever watches. */
  attach(pipe: NodeJS.ReadableStream): void;
  /** Streams to an HTTP response as `multipart/x-mixed-replace` until it closes. */
  serve(res: ServerResponse): void;
  /** The latest JPEG, if any yet. */
  latest(): Buffer | undefined;
  readonly viewers: number;
  close(): void;
}

const BOUNDARY = 'vigilframe';
const EOI = Buffer.from([0xff, 0xd9]);

/**
 * A viewer that has not taken the previous JPEG skips frames (newest wins), so a slow
 * browser never holds memory or slows ffmpeg. ffmpeg writes plain concatenated JPEGs; each
 * ends at the EOI marker, which cannot occur inside entropy-coded data (0xFF is stuffed).
 * @param o.fps JPEGs per second (cheap: ~1 ms each at 480 px) [fps=8]
 * @param o.width largest width; smaller sources keep theirs [width=480]
 */
export function createPreview(o: { fps?: number; width?: number } = {}): Preview {
  const fps = o.fps ?? 8;
  const width = o.width ?? 480;
  const viewers = new Set<{ res: ServerResponse; busy: boolean }>();
  let last: Buffer | undefined;

  function send(v: { res: ServerResponse; busy: boolean }, jpeg: Buffer): void {
    if (v.busy) return;
    const head = `--${BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: ${jpeg.length}\r\n\r\n`;
    v.res.write(head);
    v.res.write(jpeg);
    if (!v.res.write('\r\n')) {
      v.busy = true;
      v.res.once('drain', () => (v.busy = false));
    }
  }

  return {
    outputArgs(fd) {
      return [
        '-map',
        '0:v:0',
        '-an',
        '-vf',
        `fps=${fps},scale='min(${width},iw)':-2`,
        '-c:v',
        'mjpeg',
        '-q:v',
        '7',
        '-threads',
        '1',
        '-f',
        'mjpeg',
        `pipe:${fd}`,
      ];
    },
    attach(pipe) {
      let buf: Buffer = Buffer.alloc(0);
      pipe.on('data', (chunk: Buffer) => {
        buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
        let end: number;
        while ((end = buf.indexOf(EOI)) >= 0) {
          last = buf.subarray(0, end + 2);
          buf = buf.subarray(end + 2);
          for (const v of viewers) send(v, last);
        }
      });
      pipe.on('error', () => {});
    },
    serve(res) {
      res.writeHead(200, {
        'Content-Type': `multipart/x-mixed-replace; boundary=${BOUNDARY}`,
        'Cache-Control': 'no-store',
        Connection: 'close',
      });
      // The headers go now: a camera with no picture yet must still answer, and HEAD ends here.
      if (res.req?.method === 'HEAD') {
        res.end();
        return;
      }
      res.flushHeaders();
      const v = { res, busy: false };
      viewers.add(v);
      res.on('close', () => viewers.delete(v));
      if (last) send(v, last);
    },
    latest: () => last,
    get viewers() {
      return viewers.size;
    },
    close() {
      for (const v of viewers) v.res.end();
      viewers.clear();
    },
  };
}
