/**
 * Upstreams are asked for `accept-encoding: identity`, but some compress anyway. A body the
 * sidecar must read (an event stream, an answer to convert) is decoded here; one it passes on
 * untouched keeps its bytes and its `content-encoding`, so the app's client decodes it.
 */
import { createBrotliDecompress, createGunzip, createInflate, type Gunzip } from 'node:zlib';

export interface BodySink {
  data(chunk: Buffer): void;
  end(): void;
  error(error: Error): void;
}

/** A decoder fed upstream chunks; identity calls the sink directly. */
export interface BodyDecoder {
  push(chunk: Buffer): void;
  end(): void;
}

/** True for an encoding the sidecar can decode (gzip, deflate, br) or none at all. */
export function decodable(encoding: string | undefined): boolean {
  return (
    encoding === undefined ||
    encoding === '' ||
    encoding === 'identity' ||
    decoderFor(encoding) !== undefined
  );
}

export function bodyDecoder(encoding: string | undefined, sink: BodySink): BodyDecoder {
  const make = encoding === undefined ? undefined : decoderFor(encoding);
  if (make === undefined) {
    return {
      push: (chunk) => {
        sink.data(chunk);
      },
      end: () => {
        sink.end();
      },
    };
  }
  const stream = make();
  stream.on('data', (chunk: Buffer) => {
    sink.data(chunk);
  });
  stream.on('end', () => {
    sink.end();
  });
  stream.on('error', (error) => {
    sink.error(error);
  });
  return { push: (chunk) => stream.write(chunk), end: () => stream.end() };
}

function decoderFor(encoding: string): (() => Gunzip) | undefined {
  switch (encoding.trim().toLowerCase()) {
    case 'gzip':
    case 'x-gzip':
      return createGunzip;
    case 'deflate':
      return createInflate;
    case 'br':
      return createBrotliDecompress;
    default:
      return undefined;
  }
}
