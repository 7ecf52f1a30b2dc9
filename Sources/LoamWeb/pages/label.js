// Loam's annotation page: the task queue, one item at a time, keyboard shortcuts for classes, boxes drawn
// and moved on images, spans selected in text, skip and submit; reviewers see disagreements side by side.
// It speaks the REST API under /api/v1 with the token the visitor signs in with (kept for this tab only).

const $ = (id) => document.getElementById(id);
const state = { token: sessionStorage.getItem("loam-token") || "", task: null, schema: null, role: null,
                item: null, row: null, value: null, parts: [], selected: -1, image: null, scale: 1, drag: null, polygon: [] };

async function api(path, options = {}) {
  const headers = { "X-Loam-Request": "1" };
  if (state.token) headers["Authorization"] = "Bearer " + state.token;
  if (options.body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(path, { method: options.method || "GET", headers,
                                       body: options.body === undefined ? undefined : JSON.stringify(options.body) });
  if (response.status === 401) { showLogin(""); throw new Error("sign in"); }
  if (!response.ok) {
    let message = response.statusText;
    try { message = (await response.json()).error.message; } catch (_) {}
    throw new Error(message);
  }
  return options.raw ? response : response.json();
}

function show(section) {
  for (const id of ["login", "tasks", "work"]) $(id).hidden = id !== section;
}

function showLogin(message) {
  show("login");
  $("login-error").textContent = message;
  $("token").focus();
}

$("login-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  state.token = $("token").value.trim();
  sessionStorage.setItem("loam-token", state.token);
  route();
});

// --- the task list ---

async function showTasks() {
  const tasks = await api("/api/v1/label-tasks");
  show("tasks");
  $("where").textContent = "";
  const body = $("task-table").querySelector("tbody");
  body.replaceChildren();
  for (const t of tasks) {
    const tr = document.createElement("tr");
    for (const v of [t.id, t.dataset, t.schema, t.items, t.overlap < 1 ? `${t.annotators} on ${Math.round(t.overlap * 100)}%` : t.annotators, t.status]) {
      const td = document.createElement("td");
      td.textContent = v;
      tr.append(td);
    }
    tr.addEventListener("click", () => { location.hash = "task=" + t.id; });
    body.append(tr);
  }
  $("no-tasks").hidden = tasks.length > 0;
}

// --- one task ---

async function openTask(id) {
  const view = await api(`/api/v1/label-tasks/${id}`);
  state.task = view.task; state.schema = view.schema; state.role = view.role;
  show("work");
  $("where").textContent = `${view.task.dataset} › ${view.schema.name}`;
  $("task-title").textContent = `Task ${view.task.id}: ${view.schema.name} (${view.schema.kind})`;
  $("tab-review").hidden = view.role === "annotator";
  document.querySelector(".tabs").hidden = view.role === "annotator";
  $("who").textContent = `you are a${view.role === "annotator" ? "n" : ""} ${view.role}`;
  renderClasses();
  selectTab("annotate");
  await refreshProgress();
  await loadItem(await api(`/api/v1/label-tasks/${id}/next`));
}

async function refreshProgress() {
  if (state.role === "annotator") { $("progress").hidden = true; return; }
  const p = await api(`/api/v1/label-tasks/${state.task.id}/progress`);
  $("progress").hidden = false;
  $("meter-fill").style.width = `${p.items ? (100 * p.complete / p.items) : 0}%`;
  $("progress-text").textContent = `${p.complete} of ${p.items} items complete · ${p.annotations} answers`;
}

function selectTab(which) {
  $("tab-annotate").classList.toggle("on", which === "annotate");
  $("tab-review").classList.toggle("on", which === "review");
  $("annotate").hidden = which !== "annotate";
  $("review").hidden = which !== "review";
  if (which === "review") loadDisagreements();
}
$("tab-annotate").addEventListener("click", () => selectTab("annotate"));
$("tab-review").addEventListener("click", () => selectTab("review"));

const kind = () => state.schema.kind;
const classColor = (label) => `var(--c${Math.max(0, (state.schema.classes || []).indexOf(label)) % 8})`;

function renderClasses() {
  const box = $("classes");
  box.replaceChildren();
  (state.schema.classes || []).forEach((name, i) => {
    const b = document.createElement("button");
    b.type = "button";
    b.dataset.cls = name;
    b.innerHTML = "";
    b.append(name);
    if (i < 9) { const k = document.createElement("kbd"); k.textContent = String(i + 1); b.append(k); }
    b.style.borderColor = classColor(name);
    b.addEventListener("click", () => chooseClass(name));
    box.append(b);
  });
  $("rating").hidden = kind() !== "rating";
  $("free").hidden = kind() !== "text";
}

function chooseClass(name) {
  if (kind() === "class") state.value = state.value === name ? null : name;
  else if (kind() === "multilabel") {
    const set = new Set(state.value || []);
    set.has(name) ? set.delete(name) : set.add(name);
    state.value = [...set].sort();
  } else {
    state.current = name;  // the class the next box, polygon or span takes
    if (state.selected >= 0 && (kind() === "boxes" || kind() === "polygons")) { state.parts[state.selected].label = name; draw(); }
  }
  paintClasses();
}

function paintClasses() {
  for (const b of $("classes").children) {
    const on = kind() === "class" ? state.value === b.dataset.cls
      : kind() === "multilabel" ? (state.value || []).includes(b.dataset.cls) : state.current === b.dataset.cls;
    b.classList.toggle("on", on);
    b.style.background = on ? classColor(b.dataset.cls) : "#fff";
  }
  renderParts();
}

function renderParts() {
  const list = $("parts");
  list.replaceChildren();
  if (!["boxes", "polygons", "spans"].includes(kind())) return;
  state.parts.forEach((p, i) => {
    const li = document.createElement("li");
    const what = kind() === "spans" ? `${p.label} “${Array.from(state.text).slice(p.start, p.end).join("")}”`
      : kind() === "boxes" ? `${p.label} ${Math.round(p.w)}×${Math.round(p.h)} at ${Math.round(p.x)},${Math.round(p.y)}` : `${p.label} (${p.points.length} points)`;
    li.textContent = (i === state.selected ? "▸ " : "") + what;
    const x = document.createElement("button");
    x.className = "secondary"; x.type = "button"; x.textContent = "×"; x.title = "remove";
    x.addEventListener("click", () => { state.parts.splice(i, 1); state.selected = -1; redraw(); });
    li.append(x);
    list.append(li);
  });
}

function redraw() { if (kind() === "spans") renderText(); else draw(); renderParts(); }

async function loadItem(view) {
  $("item-error").textContent = "";
  if (!view.item) { $("item-card").hidden = true; $("done").hidden = false; state.item = null; return; }
  $("item-card").hidden = false; $("done").hidden = true;
  state.item = view.item; state.row = view.row;
  state.selected = -1; state.polygon = []; state.current = (state.schema.classes || [])[0];
  const stored = view.item.yours ?? view.item.suggestion;
  $("item-id").textContent = `row ${view.item.row_id}`;
  $("item-hint").textContent = view.item.yours != null ? "your earlier answer" : view.item.suggestion != null
    ? `model suggestion${view.item.uncertainty != null ? ` (uncertainty ${view.item.uncertainty.toFixed(2)})` : ""}` : "";
  const k = kind();
  state.value = null; state.parts = [];
  if (stored != null) {
    if (k === "class" || k === "text") state.value = stored;
    else if (k === "rating") state.value = Number(stored);
    else if (k === "multilabel") state.value = JSON.parse(stored);
    else state.parts = JSON.parse(stored);
  }
  $("rating-input").value = k === "rating" && state.value != null ? state.value : "";
  $("free-input").value = k === "text" && state.value != null ? state.value : "";
  // The row's fields, but the image and the text being read or marked have their own place: the schema's
  // text column, else (for classes, ratings and texts) the row's first text value.
  const shown = state.schema.textColumn
    ?? (["boxes", "polygons"].includes(k) ? null : Object.keys(view.row).find((n) => typeof view.row[n] === "string" && n !== state.schema.imageColumn));
  const fields = $("fields");
  fields.replaceChildren();
  for (const [name, value] of Object.entries(view.row)) {
    if (name === state.schema.imageColumn || name === shown) continue;
    const dt = document.createElement("dt"); dt.textContent = name;
    const dd = document.createElement("dd"); dd.textContent = value === null ? "∅" : String(value);
    fields.append(dt, dd);
  }
  $("canvas").hidden = !(k === "boxes" || k === "polygons");
  $("text").hidden = shown == null;
  state.text = shown == null ? "" : String(view.row[shown] ?? "");
  if (k === "spans") renderText(); else $("text").textContent = state.text;
  if (k === "boxes" || k === "polygons") await loadImage();
  paintClasses();
}

// --- images: draw, select, move ---

async function loadImage() {
  const response = await api(`/api/v1/label-tasks/${state.task.id}/items/${state.item.row_id}/image`, { raw: true });
  const bitmap = await createImageBitmap(await response.blob());
  state.image = bitmap;
  const canvas = $("canvas");
  state.scale = Math.min(1, 960 / bitmap.width);
  canvas.width = Math.round(bitmap.width * state.scale);
  canvas.height = Math.round(bitmap.height * state.scale);
  draw();
}

function draw() {
  const canvas = $("canvas"), g = canvas.getContext("2d"), s = state.scale;
  if (!state.image) return;
  g.drawImage(state.image, 0, 0, canvas.width, canvas.height);
  const css = getComputedStyle(document.documentElement);
  const color = (label) => css.getPropertyValue(`--c${Math.max(0, (state.schema.classes || []).indexOf(label)) % 8}`).trim();
  state.parts.forEach((p, i) => {
    g.lineWidth = i === state.selected ? 3 : 2;
    g.strokeStyle = color(p.label);
    g.fillStyle = color(p.label);
    if (kind() === "boxes") {
      g.strokeRect(p.x * s, p.y * s, p.w * s, p.h * s);
      g.font = "12px system-ui"; g.fillText(p.label, p.x * s + 3, Math.max(12, p.y * s - 4));
    } else {
      g.beginPath();
      p.points.forEach(([x, y], j) => j ? g.lineTo(x * s, y * s) : g.moveTo(x * s, y * s));
      g.closePath(); g.stroke();
    }
  });
  if (state.polygon.length) {
    g.strokeStyle = color(state.current); g.beginPath();
    state.polygon.forEach(([x, y], j) => j ? g.lineTo(x * s, y * s) : g.moveTo(x * s, y * s));
    g.stroke();
  }
}

function imagePoint(event) {
  const r = $("canvas").getBoundingClientRect();
  const fx = $("canvas").width / r.width, fy = $("canvas").height / r.height;
  const clamp = (v, hi) => Math.max(0, Math.min(hi, v));
  return [clamp((event.clientX - r.left) * fx / state.scale, state.image.width), clamp((event.clientY - r.top) * fy / state.scale, state.image.height)];
}

$("canvas").addEventListener("mousedown", (event) => {
  if (!state.image) return;
  const [x, y] = imagePoint(event);
  if (kind() === "polygons") { state.polygon.push([x, y]); draw(); return; }
  const hit = state.parts.findIndex((p) => x >= p.x && x <= p.x + p.w && y >= p.y && y <= p.y + p.h);
  if (hit >= 0) {  // move the box under the pointer
    state.selected = hit;
    state.drag = { mode: "move", x, y, box: { ...state.parts[hit] } };
  } else {          // draw a new box
    state.parts.push({ label: state.current, x, y, w: 0, h: 0 });
    state.selected = state.parts.length - 1;
    state.drag = { mode: "draw", x, y };
  }
  draw(); renderParts();
});

window.addEventListener("mousemove", (event) => {
  if (!state.drag) return;
  const [x, y] = imagePoint(event), p = state.parts[state.selected], d = state.drag;
  if (d.mode === "draw") {
    p.x = Math.min(d.x, x); p.y = Math.min(d.y, y); p.w = Math.abs(x - d.x); p.h = Math.abs(y - d.y);
  } else {
    p.x = Math.max(0, Math.min(state.image.width - p.w, d.box.x + x - d.x));
    p.y = Math.max(0, Math.min(state.image.height - p.h, d.box.y + y - d.y));
  }
  draw();
});

window.addEventListener("mouseup", () => {
  if (!state.drag) return;
  const p = state.parts[state.selected];
  if (state.drag.mode === "draw" && (p.w < 2 || p.h < 2)) { state.parts.pop(); state.selected = -1; }  // a click, not a box
  state.drag = null;
  draw(); renderParts();
});

// --- text: select spans ---

function renderText() {
  const chars = Array.from(state.text), box = $("text");
  box.replaceChildren();
  const spans = [...state.parts].map((p, i) => ({ ...p, i })).sort((a, b) => a.start - b.start);
  let at = 0;
  for (const s of spans) {
    if (s.start < at) continue;
    box.append(document.createTextNode(chars.slice(at, s.start).join("")));
    const mark = document.createElement("mark");
    mark.textContent = chars.slice(s.start, s.end).join("");
    mark.style.background = `color-mix(in srgb, ${classColor(s.label)} 25%, white)`;
    mark.style.borderBottom = `2px solid ${classColor(s.label)}`;
    const sup = document.createElement("sup"); sup.textContent = s.label; mark.append(sup);
    mark.dataset.start = s.start;
    mark.title = "click to remove";
    mark.addEventListener("click", () => { state.parts.splice(s.i, 1); redraw(); });
    box.append(mark);
    at = s.end;
  }
  box.append(document.createTextNode(chars.slice(at).join("")));
}

/** The offset in Unicode scalars (what Loam stores) of a DOM position inside #text. */
function scalarOffset(node, offset) {
  let count = 0;
  const walk = document.createTreeWalker($("text"), NodeFilter.SHOW_TEXT, {
    acceptNode: (n) => n.parentElement.tagName === "SUP" ? NodeFilter.FILTER_REJECT : NodeFilter.FILTER_ACCEPT });
  for (let n = walk.nextNode(); n; n = walk.nextNode()) {
    if (n === node) return count + Array.from(n.data.slice(0, offset)).length;
    count += Array.from(n.data).length;
  }
  return count;
}

$("text").addEventListener("mouseup", () => {
  if (kind() !== "spans") return;
  const selection = window.getSelection();
  if (!selection.rangeCount || selection.isCollapsed) return;
  const range = selection.getRangeAt(0);
  let start = scalarOffset(range.startContainer, range.startOffset), end = scalarOffset(range.endContainer, range.endOffset);
  if (start > end) [start, end] = [end, start];
  selection.removeAllRanges();
  if (end <= start) return;
  if (!state.schema.allowOverlap && state.parts.some((p) => p.start < end && start < p.end)) {
    $("item-error").textContent = "spans may not overlap in this schema"; return;
  }
  state.parts.push({ label: state.current, start, end });
  $("item-error").textContent = "";
  redraw();
});

// --- answering ---

function answer() {
  switch (kind()) {
    case "class": return state.value;
    case "multilabel": return state.value || [];
    case "rating": { const v = $("rating-input").value; return v === "" ? null : Number(v); }
    case "text": return $("free-input").value;
    case "boxes": return state.parts.map(({ label, x, y, w, h }) => ({ label, x, y, w, h }));
    case "polygons": return state.parts.map(({ label, points }) => ({ label, points }));
    case "spans": return state.parts.map(({ label, start, end }) => ({ label, start, end }));
    default: return null;
  }
}

async function submit() {
  if (!state.item) return;
  const value = answer();
  if (value === null || value === undefined || value === "") { $("item-error").textContent = "choose a label first (or skip)"; return; }
  $("submit").disabled = true;
  try {
    await api(`/api/v1/label-tasks/${state.task.id}/items/${state.item.row_id}/submit`, { method: "POST", body: { value } });
    await refreshProgress();
    await loadItem(await api(`/api/v1/label-tasks/${state.task.id}/next`));
  } catch (error) { $("item-error").textContent = error.message; }
  finally { $("submit").disabled = false; }
}

async function skip() {
  if (!state.item) return;
  try {
    await api(`/api/v1/label-tasks/${state.task.id}/items/${state.item.row_id}/skip`, { method: "POST", body: {} });
    await loadItem(await api(`/api/v1/label-tasks/${state.task.id}/next`));
  } catch (error) { $("item-error").textContent = error.message; }
}

$("submit").addEventListener("click", submit);
$("skip").addEventListener("click", skip);

window.addEventListener("keydown", (event) => {
  if ($("work").hidden || $("annotate").hidden || !state.item) return;
  const typing = ["INPUT", "TEXTAREA"].includes(document.activeElement?.tagName);
  if (event.key === "Enter" && !(typing && document.activeElement.tagName === "TEXTAREA" && !event.ctrlKey)) { event.preventDefault(); submit(); return; }
  if (typing) return;
  const n = Number(event.key);
  if (n >= 1 && n <= 9 && state.schema.classes && n <= state.schema.classes.length) { chooseClass(state.schema.classes[n - 1]); return; }
  if (event.key === "s" || event.key === "S") { skip(); return; }
  if ((event.key === "Delete" || event.key === "Backspace") && state.selected >= 0) { state.parts.splice(state.selected, 1); state.selected = -1; redraw(); }
  if ((event.key === "c" || event.key === "C") && kind() === "polygons" && state.polygon.length >= 3) {
    state.parts.push({ label: state.current, points: state.polygon }); state.polygon = []; redraw();
  }
});

// --- review ---

async function loadDisagreements() {
  const items = await api(`/api/v1/label-tasks/${state.task.id}/disagreements`);
  const box = $("disagreements");
  box.replaceChildren();
  $("no-disagreements").hidden = items.length > 0;
  for (const d of items) {
    const card = document.createElement("div");
    card.className = "card";
    const h = document.createElement("h2"); h.textContent = `row ${d.row_id}`; card.append(h);
    // What was labelled: the row's text (or its fields), as the annotators saw it.
    const view = await api(`/api/v1/label-tasks/${state.task.id}/items/${d.row_id}`);
    const name = state.schema.textColumn ?? Object.keys(view.row).find((n) => typeof view.row[n] === "string" && n !== state.schema.imageColumn);
    const shown = document.createElement("div");
    shown.className = "subject";
    shown.textContent = name ? String(view.row[name]) : Object.entries(view.row).map(([k, v]) => `${k}: ${v}`).join(" · ");
    card.append(shown);
    const grid = document.createElement("div"); grid.className = "answers";
    for (const a of d.answers) {
      const cell = document.createElement("div"); cell.className = "answer";
      const who = document.createElement("div"); who.className = "who"; who.textContent = a.annotator;
      const what = document.createElement("div"); what.className = "what"; what.textContent = a.value;
      const accept = document.createElement("button"); accept.type = "button"; accept.textContent = "Accept this";
      accept.addEventListener("click", async () => {
        const value = ["class", "text"].includes(kind()) ? a.value : JSON.parse(a.value);
        await api(`/api/v1/label-tasks/${state.task.id}/items/${d.row_id}/resolve`, { method: "POST", body: { value } });
        card.replaceChildren(h, shown, Object.assign(document.createElement("p"), { className: "resolved", textContent: `resolved: ${a.value}` }));
        refreshProgress();
      });
      cell.append(who, what, accept);
      grid.append(cell);
    }
    card.append(grid);
    box.append(card);
  }
}

// --- routing ---

async function route() {
  try {
    const match = /task=([0-9a-f]+)/.exec(location.hash);
    if (match) await openTask(match[1]); else await showTasks();
  } catch (error) {
    if (error.message !== "sign in") { show("tasks"); $("no-tasks").hidden = false; $("no-tasks").textContent = error.message; }
  }
}
window.addEventListener("hashchange", route);
route();
