export type { Frame, FrameSource, FrameSourceOptions, ProbeInfo, SourceInput } from './types.js';
export { openFrames, type DecodeStats, type FfmpegFrameSource } from './decode.js';
export { classifySource, displaySource, probe, type ProbeOptions, type SourceKind } from './probe.js';
export { describeFfmpeg, findFfmpeg, resolveFfmpeg, type BinaryInfo, type BinarySource, type Binaries, type FfmpegInfo } from './ffmpeg.js';
export { createFrameAssembler, type FrameAssembler } from './frame-assembler.js';
export { inBatches } from './batches.js';
