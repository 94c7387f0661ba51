/**
 * Groups an async stream of frames into arrays of up to `size`, the last one possibly
 * shorter: the CNN runs best on batches, frames arrive one at a time. Breaking out of the
 * loop returns the source too (closing ffmpeg).
 */
export async function* inBatches<T>(source: AsyncIterable<T>, size: number): AsyncGenerator<T[]> {
  let batch: T[] = [];
  for await (const item of source) {
    batch.push(item);
    if (batch.length === size) {
      yield batch;
      batch = [];
    }
  }
  if (batch.length > 0) yield batch;
}
