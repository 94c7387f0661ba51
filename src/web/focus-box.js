import { h } from './dom.js';

/**
 * Where the model looks, drawn over the live video: a `motioncrop` model sees only a square
 * that follows the motion, and an operator should see which part of the scene that is.
 * The server sends the square in fractions of the frame letterboxed into a square (the model's
 * decode); the video is shown with `object-fit: contain`, so both fits are undone here.
 * @returns `{ element, show(focus, media), hide() }`: `media` is the <img> or <video> showing the stream.
 */
export function createFocusBox() {
  const element = h('div', { class: 'focus', 'data-testid': 'live-focus', title: 'where the model looks', hidden: true });

  function show(focus, media) {
    const natural = media && (media.naturalWidth ? [media.naturalWidth, media.naturalHeight] : [media.videoWidth, media.videoHeight]);
    const stage = element.parentElement;
    if (!focus || !natural?.[0] || !stage) return hide();
    const m = media.getBoundingClientRect();
    const s = stage.getBoundingClientRect();
    const r = focusRect(focus, natural, { x: m.left - s.left, y: m.top - s.top, w: m.width, h: m.height });
    if (!r) return hide();
    Object.assign(element.style, { left: `${r.x}px`, top: `${r.y}px`, width: `${r.w}px`, height: `${r.h}px` });
    element.hidden = false;
  }

  function hide() {
    element.hidden = true;
  }

  return { element, show, hide };
}

/**
 * The focus square in px of the stage, cut to the picture (it may reach into the letterbox
 * bars, which are not shown).
 * @param focus `{ x, y, side }`, fractions of the square the frame was letterboxed into
 * @param natural `[width, height]` of the video
 * @param box where the media element sits in the stage, `{ x, y, w, h }` px; the video is contained in it
 */
function focusRect(focus, [nw, nh], box) {
  const L = Math.max(nw, nh);
  const scale = Math.min(box.w / nw, box.h / nh);
  const px = box.x + (box.w - nw * scale) / 2; // the picture's top-left in the stage
  const py = box.y + (box.h - nh * scale) / 2;
  const x0 = Math.max(0, focus.x * L - (L - nw) / 2);
  const y0 = Math.max(0, focus.y * L - (L - nh) / 2);
  const x1 = Math.min(nw, (focus.x + focus.side) * L - (L - nw) / 2);
  const y1 = Math.min(nh, (focus.y + focus.side) * L - (L - nh) / 2);
  if (x1 <= x0 || y1 <= y0) return undefined;
  return { x: px + x0 * scale, y: py + y0 * scale, w: (x1 - x0) * scale, h: (y1 - y0) * scale };
}
