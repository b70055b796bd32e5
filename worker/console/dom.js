// Building the page from data with DOM calls only (text is never parsed as HTML, so nothing the
// Worker returns — a reason, a version name — can inject markup).

/** An element: h('p', { class: 'x', dataset: { figure: 'lift' } }, 'text', child, …). */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs ?? {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k === 'class') el.className = v;
    else if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) if (c !== null && c !== undefined && c !== false) el.append(c instanceof Node ? c : String(c));
  return el;
}

/** A figure the test and screen readers can find: its text, and its raw number in data-value. */
export function figure(name, value, text) {
  return h('span', { class: 'figure', dataset: { figure: name, value: value === null || value === undefined ? '' : String(value) } }, text);
}

/** A table with a caption; rows are arrays of cells (strings or nodes). */
export function table(caption, head, rows, attrs = {}) {
  return h('div', { class: 'table-wrap', tabindex: '0', role: 'region', 'aria-label': caption },
    h('table', attrs,
      h('caption', {}, caption),
      h('thead', {}, h('tr', {}, head.map((c) => h('th', { scope: 'col' }, c)))),
      h('tbody', {}, rows.map((r) => h('tr', r.attrs ?? {}, (r.cells ?? r).map((c, i) => (i === 0 ? h('th', { scope: 'row' }, c) : h('td', {}, c))))))));
}

/** A short explanation of an empty or early state: what it means and what to do. */
export function note(kind, ...children) {
  return h('p', { class: `note ${kind}`, dataset: { state: kind } }, ...children);
}

export function fill(section, ...children) {
  const body = document.querySelector(`#${section} .body`);
  body.replaceChildren(...children.flat().filter(Boolean));
  return body;
}
