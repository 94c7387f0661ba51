/** Regenerates test/golden/*.json from the shipped fight model: run after retraining it. */
import { writeFileSync } from 'node:fs';
import { labelClip } from '../src/label-clip.js';
import { loadModel } from '../src/model/model.js';

const clips = ['fight-fi002.mp4', 'nofight-nofi090.mp4', 'gmdcsa24-subject4-fall02.mp4'];
const model = await loadModel('fight');
for (const clip of clips) {
  const t = await labelClip(`fixtures/${clip}`, model);
  writeFileSync(
    `test/golden/${clip}.json`,
    JSON.stringify({ ...t, source: { ...t.source, uri: `fixtures/${clip}` }, createdAt: '1970-01-01T00:00:00.000Z' }, null, 1) + '\n',
  );
  console.log(`test/golden/${clip}.json: ${t.frames.length} frames, ${t.segments.length} segments`);
}
model.dispose();
