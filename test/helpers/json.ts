import type { WireError } from '../../src/server/protocol.js';

/**
 * A parsed JSON answer (an HTTP body, a WebSocket frame) whose shape the test checks with chai
 * at run time: typing each one first would only restate the assertion (see eslint.config.js).
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the shape is asserted at run time, as above
export type JsonAnswer = any;

/** An error answer of the API. */
export interface ErrorAnswer {
  error: WireError;
}
