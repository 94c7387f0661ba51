/**
 * The 17 COCO keypoints MoveNet gives, in its output order: (y, x, score) each, y and x in
 * [0, 1] of the (letterboxed, square) frame, y downwards.
 */
export const COCO_KEYPOINTS = Object.freeze([
  'nose',
  'left_eye',
  'right_eye',
  'left_ear',
  'right_ear',
  'left_shoulder',
  'right_shoulder',
  'left_elbow',
  'right_elbow',
  'left_wrist',
  'right_wrist',
  'left_hip',
  'right_hip',
  'left_knee',
  'right_knee',
  'left_ankle',
  'right_ankle',
] as const);

const K = COCO_KEYPOINTS.length;
const L_SHOULDER = 5;
const R_SHOULDER = 6;
const L_HIP = 11;
const R_HIP = 12;
/** Keypoints at or above this score count for the bounding box. */
const VISIBLE = 0.2;
/** Torso lengths below this (fraction of the frame side) are taken as this: a person seen end-on. */
const MIN_TORSO = 0.02;
/** Normalised coordinates are clipped to ±this many torso lengths (a misplaced keypoint). */
const MAX_REL = 4;

/**
 * What each entry of a pose feature vector is, in order (the extractor's `featureSize` is its
 * length). Posture, independent of where the person is and how large:
 * - `rel_x_<kp>`, `rel_y_<kp>`: keypoint minus the hip centre, over the torso length
 *   (shoulder centre to hip centre), clipped to ±4.
 * - `score_<kp>`: MoveNet's confidence.
 *
 * Where and how large, in frame units (the side of the letterboxed square), which is what
 * changes in a fall:
 * - `box_w`, `box_h`, `box_cx`, `box_cy`: bounding box of the keypoints scoring >= 0.2 (all 17
 *   when none does).
 * - `hip_y`: hip centre height; `torso_len`: shoulder centre to hip centre.
 * - `torso_dx`, `torso_dy`: unit vector from shoulder centre to hip centre ((0, 1) upright,
 *   (±1, 0) lying).
 * - `mean_score`.
 */
export const POSE_FEATURES: readonly string[] = Object.freeze([
  ...COCO_KEYPOINTS.flatMap((k) => [`rel_x_${k}`, `rel_y_${k}`]),
  ...COCO_KEYPOINTS.map((k) => `score_${k}`),
  'box_w',
  'box_h',
  'box_cx',
  'box_cy',
  'hip_y',
  'torso_len',
  'torso_dx',
  'torso_dy',
  'mean_score',
]);

/**
 * The whole-body part of {@link POSE_FEATURES} (its last 9 entries, from `box_w`): where and
 * how large the body is and how the torso leans, without the per-keypoint posture. On
 * GMDCSA24's 3 subjects a fall model generalises better across people from these alone.
 */
export const BODY_FEATURES: readonly string[] = Object.freeze(POSE_FEATURES.slice(POSE_FEATURES.indexOf('box_w')));

/** Writes the {@link BODY_FEATURES} of one pose into `out` at `at` (see {@link poseFeatures}). */
export function bodyFeatures(kp: ArrayLike<number>, out: Float32Array, at: number): void {
  const all = new Float32Array(POSE_FEATURES.length);
  poseFeatures(kp, all, 0);
  out.set(all.subarray(POSE_FEATURES.length - BODY_FEATURES.length), at);
}

/**
 * Writes the {@link POSE_FEATURES} of one pose into `out` at `at`.
 * @param kp 51 floats, MoveNet's (y, x, score) per keypoint.
 */
export function poseFeatures(kp: ArrayLike<number>, out: Float32Array, at: number): void {
  const y = (i: number) => kp[i * 3];
  const x = (i: number) => kp[i * 3 + 1];
  const s = (i: number) => kp[i * 3 + 2];
  const hipX = (x(L_HIP) + x(R_HIP)) / 2;
  const hipY = (y(L_HIP) + y(R_HIP)) / 2;
  const dx = hipX - (x(L_SHOULDER) + x(R_SHOULDER)) / 2;
  const dy = hipY - (y(L_SHOULDER) + y(R_SHOULDER)) / 2;
  const torso = Math.hypot(dx, dy);
  const scale = Math.max(torso, MIN_TORSO);
  const clip = (v: number) => Math.min(MAX_REL, Math.max(-MAX_REL, v));

  let o = at;
  for (let i = 0; i < K; i++) {
    out[o++] = clip((x(i) - hipX) / scale);
    out[o++] = clip((y(i) - hipY) / scale);
  }
  let scoreSum = 0;
  for (let i = 0; i < K; i++) {
    out[o++] = s(i);
    scoreSum += s(i);
  }
  let visible = 0;
  for (let i = 0; i < K; i++) if (s(i) >= VISIBLE) visible++;
  let x0 = Infinity;
  let x1 = -Infinity;
  let y0 = Infinity;
  let y1 = -Infinity;
  for (let i = 0; i < K; i++) {
    if (visible > 0 && s(i) < VISIBLE) continue;
    x0 = Math.min(x0, x(i));
    x1 = Math.max(x1, x(i));
    y0 = Math.min(y0, y(i));
    y1 = Math.max(y1, y(i));
  }
  out[o++] = x1 - x0;
  out[o++] = y1 - y0;
  out[o++] = (x0 + x1) / 2;
  out[o++] = (y0 + y1) / 2;
  out[o++] = hipY;
  out[o++] = torso;
  out[o++] = torso > 0 ? dx / torso : 0;
  out[o++] = torso > 0 ? dy / torso : 1;
  out[o] = scoreSum / K;
}
