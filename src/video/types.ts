/** One decoded frame: packed RGB24, row-major, `width * height * 3` bytes. */
export interface Frame {
  /** 0-based index among the frames this source yielded (after sampling). */
  readonly index: number;
  /** Presentation time in ms from the stream's own timestamps (not index / fps). */
  readonly tMs: number;
  readonly width: number;
  readonly height: number;
  readonly data: Uint8Array;
  /**
   * Which output of the decode it comes from: absent for the first, k for
   * `FrameSourceOptions.outputs[k - 1]`. `index` counts within its output.
   */
  readonly output?: number;
}

/** A further rawvideo output of the same decode: its own size, rate and filters (see `FrameSourceOptions.outputs`). */
export interface FrameOutput {
  readonly width: number;
  readonly height: number;
  /** [fps=8] */
  readonly fps?: number;
  /** As `FrameSourceOptions.filters`, for this output only [filters=none]. */
  readonly filters?: readonly string[];
}

/** What `probe()` learns about a source before decoding it. */
export interface ProbeInfo {
  /** Seconds; `null` for live sources. */
  readonly durationS: number | null;
  /** Average frame rate of the video stream; `null` when unknown. */
  readonly fps: number | null;
  /** Coded size, before rotation. */
  readonly width: number;
  readonly height: number;
  readonly codec: string;
  /** Display rotation in degrees clockwise (0, 90, 180, 270); ffmpeg applies it while decoding. */
  readonly rotation: number;
  /** Frame count when the container states it, else `null`. */
  readonly frames: number | null;
}

/** Where frames come from: a file path, an rtsp/http(s) URL, or a readable byte stream. */
export type SourceInput = string | NodeJS.ReadableStream;

export interface FrameSourceOptions {
  /** Sampling rate. [fps=8]; the source's own rate caps it (frames are never duplicated). */
  fps?: number;
  /** Output size in pixels; frames are letterboxed into it (aspect kept, black bars). */
  width: number;
  height: number;
  /** Aborts decoding; the ffmpeg process is killed. */
  signal?: AbortSignal;
  /** Treat the file as a live feed: read it at its native rate (`-re`) [realtime=false]. */
  realtime?: boolean;
  /** Loop a file forever (with `realtime`, for demo cameras) [loop=false]. */
  loop?: boolean;
  /**
   * ffmpeg video filters applied to the sampled frames before the letterbox, e.g. `['hflip']`
   * (training augmentation, see train/augment.ts). [filters=none]
   */
  filters?: readonly string[];
  /**
   * ffmpeg threads for decoding and filtering; 0 lets ffmpeg choose (about one per core)
   * [threads=0]. A live camera wants 1: it decodes at the source's own pace, frame threading
   * holds back a frame per extra thread, and with many cameras every process's idle threads
   * are overhead (one thread: 1.3 ms less ffmpeg CPU per 448x448 frame, bench:live).
   */
  threads?: number;
  /** Network I/O timeout for URLs, in ms [timeoutMs=10000]. */
  timeoutMs?: number;
  /**
   * Called when decoding ended early but some frames were delivered (e.g. a truncated file):
   * the good frames are kept and the source ends instead of throwing. [onWarning=ignore]
   */
  onWarning?: (message: string) => void;
  /**
   * More ffmpeg outputs on the same input, appended after the frames' output, e.g. a
   * recording (`-map 0:v:0 -c:v libx264 ... -f segment ...`): the source is read once.
   * [extraOutputArgs=none]
   */
  extraOutputArgs?: readonly string[];
  /**
   * Extra pipes from ffmpeg, as fds 3, 4, ... (`pipe:3` in `extraOutputArgs`); each ffmpeg
   * process started hands them to this callback, which must keep reading them, or ffmpeg
   * stalls. [onExtraPipes=none]
   */
  onExtraPipes?: (pipes: NodeJS.ReadableStream[]) => void;
  /** How many extra pipes [extraPipes=0]. */
  extraPipes?: number;
  /**
   * More frame outputs of the same decode, each letterboxed to its own size at its own rate
   * (several models on one camera: the source is opened and decoded once). Their frames come
   * through the same iterator, tagged `output: k` (1-based), on pipes after the extra ones
   * (fd 3 + extraPipes + k - 1). [outputs=none]
   */
  outputs?: readonly FrameOutput[];
}

/**
 * An async iterable of frames backed by one ffmpeg process. Breaking out of `for await`,
 * calling `close()` or aborting the signal kills ffmpeg and waits for it to exit.
 */
export interface FrameSource extends AsyncIterable<Frame> {
  close(): Promise<void>;
}
