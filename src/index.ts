/**
 * vigil's API: decode (src/video), label (src/model), timeline (src/timeline).
 * @example
 *   const model = await loadModel('fight');
 *   const timeline = await labelClip('hall.mp4', model);
 */
export * from './video/index.js';
export * from './timeline/index.js';
export { labelClip, type LabelClipOptions } from './label-clip.js';
export { loadModel, type VigilModel } from './model/model.js';
export { framesFor, openModelFrames, type FrameSpec, type FramesManifest, type ModelFrameOptions } from './model/frames.js';
export { createLabeler, type Labeler } from './model/labeler.js';
export { INPUT_MODES, type InputMode } from './model/input/frame-encoder.js';
export { DEFAULT_MODEL, listModelNames, SHIPPED_MODELS_DIR } from './model/folder/paths.js';
export type { ModelManifest } from './model/folder/manifest.js';
export { selectEngine, describeEngine, type EngineChoice, type EngineName } from './model/runtime/engine.js';
export { ERRORS, VigilError, isVigilError, type ErrorCode } from './errors.js';
export { startServer, type VigilServer } from './server/app.js';
export type { ServerConfigInput } from './server/config.js';
export { PROTOCOL_VERSION, type ServerMessage, type ClientMessage, type CameraStatus } from './server/protocol.js';
