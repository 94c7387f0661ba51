import type { SourceKind } from '../video/probe.js';

/**
 * Which sources a camera may read: the operator's allow-list (README, "Security"). A camera's
 * `source` arrives from the network, and ffmpeg opens whatever it names, so without this a
 * request could have the server record any file it can read and serve it back.
 */
export interface SourcePolicy {
  /**
   * Checks a classified source and gives it in the form to store (files absolute, links
   * resolved). `webcam` is checked as its own kind.
   * @throws VIGIL_ERR_SOURCE_FORBIDDEN naming what the list allows
   */
  check(source: string, kind: SourceKind | 'webcam'): string;
  /** One line for logs and `vigil serve`: what the list allows. */
  describe(): string;
}

/** Until the allow-list lands: everything, as before. */
export const OPEN_SOURCES: SourcePolicy = {
  check: (source) => source,
  describe: () => 'any file, any rtsp/http(s) URL, webcam',
};
