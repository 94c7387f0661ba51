/**
 * Builds an element without innerHTML (server text is never parsed as markup).
 * `attrs`: `class`, `text`, `on<event>` handlers, `hidden`/`disabled`/`value`-like
 * properties given as booleans or values; anything else becomes an attribute.
 * @example h('button', { class: 'primary', onclick: go, 'data-testid': 'go' }, 'Go')
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') el.className = v;
    else if (k === 'text') el.textContent = v;
    else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'value' || k === 'checked' || k === 'selected') el[k] = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

/** Replaces the children of `el`. */
export function replace(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

/**
 * A visible, coded error: `CODE: message`. `err` is an ApiError or anything thrown.
 * @returns a `role=alert` paragraph with `data-code`
 */
export function errorView(err, prefix = '') {
  const code = err?.code ?? 'ERROR';
  const message = err?.message ?? String(err);
  return h(
    'p',
    { class: 'error', role: 'alert', 'data-testid': 'error', 'data-code': code },
    prefix ? `${prefix}: ` : '',
    h('code', { text: code }),
    ` ${message}`,
  );
}
