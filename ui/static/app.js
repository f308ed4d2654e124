/* dossier station UI — small, dependency-free (no build step, no CDN).
   Every change is a POST carrying the session's CSRF token in X-CSRF-Token. */
"use strict";
const $ = (s, el = document) => el.querySelector(s);
const $$ = (s, el = document) => Array.from(el.querySelectorAll(s));
const CSRF = () => $('meta[name="csrf-token"]').content;
const I18N = () => { const el = $("#i18n"); return el ? JSON.parse(el.textContent) : {}; };

function toast(msg, bad) {
  const t = $("#toast"); t.textContent = msg; t.className = bad ? "show bad" : "show";
  clearTimeout(toast.timer); toast.timer = setTimeout(() => { t.className = ""; }, bad ? 8000 : 2500);
}

async function api(url, body) {
  const r = await fetch(url, { method: "POST", headers: { "Content-Type": "application/json", "X-CSRF-Token": CSRF() },
                               body: JSON.stringify(body || {}), credentials: "same-origin" });
  const data = await r.json().catch(() => ({}));
  if (!r.ok && r.status !== 422) { toast((data.error || r.statusText) + (data.hint ? " — " + data.hint : ""), true); throw new Error(data.error); }
  data._status = r.status;
  return data;
}

/* ---------------- batches: upload ---------------- */
function initUpload() {
  const f = $("#upload-form"); if (!f) return;
  f.addEventListener("submit", async (e) => {
    e.preventDefault();
    const r = await fetch("/api/upload", { method: "POST", body: new FormData(f), headers: { "X-CSRF-Token": CSRF() } });
    const data = await r.json().catch(() => ({}));
    if (!r.ok) { toast((data.error || r.statusText) + (data.hint ? " — " + data.hint : ""), true); return; }
    location.href = `/batch/${data.batch}/check`;
  });
}

/* ---------------- scan: presets, start, live thumbnails ---------------- */
window.__thumbShown = {};
function addThumb(ev) {
  const box = $("#thumbs"); if (!box) return;
  let fig = box.querySelector(`[data-seq="${ev.seq}"]`);
  const t = I18N();
  const label = ev.seq + (ev.role && ev.role !== "page" ? " · " + (t["role_" + ev.role] || ev.role) : "");
  if (!fig) {
    fig = document.createElement("figure"); fig.className = "thumb"; fig.dataset.seq = ev.seq;
    const img = document.createElement("img"); img.alt = ev.seq;
    img.addEventListener("load", () => { window.__thumbShown[ev.seq] = Date.now(); }, { once: true });
    img.src = ev.thumb; fig.appendChild(img);
    fig.appendChild(document.createElement("figcaption"));
    box.appendChild(fig);
  }
  fig.className = "thumb role-" + (ev.role || "page");
  fig.querySelector("figcaption").textContent = label;
  $("#page-count").textContent = $$(".thumb", box).length;
}

function showJob(ev) {
  const t = I18N();
  const st = $("#feeder-state");
  if (st && ev.kind === "scan") {
    st.dataset.state = ev.state; st.textContent = t[ev.state] || ev.state;
    const fault = $("#fault");
    if (ev.state === "fault" || ev.state === "error") { fault.hidden = false; $("#fault-message").textContent = ev.message; }
    else fault.hidden = true;
    if (ev.state === "done" && ev.result) $("#scan-note").textContent = `${ev.result.separators || 0} separator · ${ev.result.blank_backs || 0} blank`;
  }
  const bp = $("#build-progress");
  if (bp && ev.kind === "build") {
    if (ev.total) {
      bp.max = ev.total; bp.value = ev.done;
      const vol = ev.volumes ? ` · ${t.vol || "卷"} ${ev.volume} / ${ev.volumes}` : (ev.phase === "volumes" ? " · " + (t.writing || "") : "");
      $("#build-count").textContent = `${ev.done}/${ev.total}` + vol;
    }
    const bs = $("#build-state"); const was = bs.dataset.state;
    bs.dataset.state = ev.state; bs.textContent = ev.message || "";
    if (ev.state === "done" && was === "running") location.reload();  // show volumes, checks, custody
  }
}

function listen(url) {
  const es = new EventSource(url);
  es.addEventListener("page", (m) => addThumb(JSON.parse(m.data)));
  es.addEventListener("job", (m) => showJob(JSON.parse(m.data)));
  window.addEventListener("beforeunload", () => es.close());
  return es;
}

function initScan() {
  const form = $("#scan-form"); if (!form) return;
  const preset = $("#preset");
  const apply = () => { const o = preset.selectedOptions[0]; if (!o) return;
    $("#dpi").value = o.dataset.dpi; $("#mode").value = o.dataset.mode; $("#source").value = o.dataset.source;
    if (o.dataset.device) $("#device").value = o.dataset.device; };
  preset.addEventListener("change", apply);
  if (!form.dataset.batch) apply();
  const box = $("#thumbs");
  if (box.dataset.events) listen(box.dataset.events);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const body = Object.fromEntries(new FormData(form).entries());
    const data = await api("/api/scan", body);
    location.href = data.url;
  });
  const resume = $("#resume");
  if (resume) resume.addEventListener("click", async () => { $("#fault").hidden = true; await api(`/api/batch/${form.dataset.batch}/resume`); });
}

/* ---------------- check: grid, keys, drag to reorder ---------------- */
function initCheck() {
  const grid = $("#grid"); if (!grid || !grid.classList.contains("check")) return;
  const batch = grid.dataset.batch;
  let cur = 0;
  const figs = () => $$(".thumb", grid).filter((f) => f.style.display !== "none");
  const select = (i) => { const fs = figs(); if (!fs.length) return; cur = Math.max(0, Math.min(fs.length - 1, i));
    fs.forEach((f, j) => f.classList.toggle("sel", j === cur)); fs[cur].scrollIntoView({ block: "nearest" }); };
  const selected = () => figs()[cur];
  const perRow = () => { const fs = figs(); if (fs.length < 2) return 1; const top = fs[0].offsetTop; let n = 0; for (const f of fs) { if (f.offsetTop !== top) break; n++; } return n; };

  function render(pages) {
    const t = I18N(); const keep = selected() && selected().dataset.seq;
    grid.innerHTML = "";
    for (const p of pages) {
      const f = document.createElement("figure");
      f.className = `thumb role-${p.role}` + (p.flags.length || p.role !== "page" ? " flagged" : "") + (p.doc_start ? " doc-start" : "");
      f.dataset.seq = p.seq; f.draggable = true; f.tabIndex = -1; f.title = p.issues.join("\n");
      const img = document.createElement("img"); img.src = `/batch/${batch}/thumb/${p.seq}`; img.alt = p.seq; img.style.transform = `rotate(${p.rotate}deg)` + (p.rotate % 180 ? " scale(.72)" : "");  // a turned page fits its frame
      const cap = document.createElement("figcaption");
      cap.innerHTML = `<b>${p.pos}</b>` + (p.doc ? ` · ${t.doc}${p.doc}` : "") + (p.role !== "page" ? ` · ${t["role_" + p.role] || p.role}` : "");
      for (const fl of p.flags) { const s = document.createElement("span"); s.className = "flag"; s.textContent = fl; cap.appendChild(s); }
      f.append(img, cap); grid.appendChild(f);
    }
    $("#flagged-count").textContent = pages.filter((p) => p.flags.length || p.role !== "page").length;
    filter();
    const i = figs().findIndex((f) => f.dataset.seq === keep); select(i < 0 ? cur : i);
  }
  async function act(action, extra) {
    const f = selected(); if (!f && action !== "reorder") return;
    if (action === "open") { location.href = `/batch/${batch}/page/${f.dataset.seq}`; return; }
    if (action === "rescan") { await api(`/api/batch/${batch}/rescan`, { seq: Number(f.dataset.seq) }); waitForScan(); toast("…"); return; }
    const data = await api(`/api/batch/${batch}/edit`, Object.assign({ action, seq: f ? Number(f.dataset.seq) : null }, extra || {}));
    render(data.pages); toast(`${I18N()["act_" + action] || action} ✓`);
  }
  function filter() { const only = $("#flagged-only").checked; $$(".thumb", grid).forEach((f) => { f.style.display = only && !f.classList.contains("flagged") ? "none" : ""; }); }
  $("#flagged-only").addEventListener("change", () => { filter(); select(0); });
  $$("[data-act]").forEach((b) => b.addEventListener("click", () => act(b.dataset.act)));
  grid.addEventListener("click", (e) => { const f = e.target.closest(".thumb"); if (f) select(figs().indexOf(f)); grid.focus(); });
  grid.addEventListener("dblclick", (e) => { if (e.target.closest(".thumb")) act("open"); });
  document.addEventListener("keydown", (e) => {
    if (e.target.matches("input, select, textarea")) return;
    const k = e.key;
    if (k === "ArrowRight") select(cur + 1); else if (k === "ArrowLeft") select(cur - 1);
    else if (k === "ArrowDown") select(cur + perRow()); else if (k === "ArrowUp") select(cur - perRow());
    else if (k === "r" || k === "R") act("rotate");
    else if (k === "Delete" || k === "Backspace") act(selected() && selected().classList.contains("role-aside") ? "restore" : "aside");
    else if (k === "b" || k === "B") act(selected() && selected().classList.contains("role-blank") ? "notblank" : "blank");
    else if (k === "Enter") act("open");
    else return;
    e.preventDefault();
  });
  let dragged = null;
  grid.addEventListener("dragstart", (e) => { dragged = e.target.closest(".thumb"); e.dataTransfer.effectAllowed = "move"; e.dataTransfer.setData("text/plain", dragged.dataset.seq); });
  grid.addEventListener("dragover", (e) => { e.preventDefault(); });
  grid.addEventListener("drop", async (e) => {
    e.preventDefault(); const target = e.target.closest(".thumb"); if (!dragged || !target || target === dragged) return;
    const all = $$(".thumb", grid); const from = all.indexOf(dragged), to = all.indexOf(target);
    grid.insertBefore(dragged, from < to ? target.nextSibling : target);
    const order = $$(".thumb", grid).map((f) => Number(f.dataset.seq));
    const data = await api(`/api/batch/${batch}/edit`, { action: "reorder", order }); render(data.pages); dragged = null;
  });
  function waitForScan() {  // the re-scan runs as a job: reload when it has placed the page
    const es = new EventSource(grid.dataset.events);
    es.addEventListener("job", (m) => { const ev = JSON.parse(m.data);
      if (ev.kind !== "scan" || ev.state === "running") return;
      es.close(); if (ev.state === "done") location.reload(); else toast(ev.message, true); });
  }
  select(0);
}

/* ---------------- page opened large: recognised text over the image ---------------- */
async function initLarge() {
  const large = $("#large"); if (!large) return;
  document.addEventListener("keydown", (e) => {
    if (e.key === "ArrowRight" && $("#next")) location.href = $("#next").href;
    if (e.key === "ArrowLeft" && $("#prev")) location.href = $("#prev").href;
    if (e.key === "Escape") history.back();
  });
  if (large.dataset.built !== "yes") return;
  const data = await (await fetch(large.dataset.text)).json();
  if (!data.built) return;
  $("#large-img").src = data.image;
  $("#sheet").style.aspectRatio = String(1 / data.aspect);
  const layer = $("#textlayer");
  for (const r of data.runs) {
    const s = document.createElement("span"); s.textContent = r.text;
    Object.assign(s.style, { left: `${r.x * 100}%`, top: `${r.y * 100}%`, width: `${r.w * 100}%`, height: `${r.h * 100}%`, fontSize: `${r.h * 100}cqh` });
    s.addEventListener("mouseenter", () => { $("#hovered").textContent = r.text; });
    layer.appendChild(s);
  }
  layer.dataset.runs = data.runs.length;
}

/* ---------------- catalogue: fields, rows, drag a page onto a row ---------------- */
function initCatalogue() {
  const form = $("#catalogue"); if (!form) return;
  const batch = form.dataset.batch;
  function update(data) {
    const rows = $$("tr.catrow", form);
    if (data.documents && data.documents.length !== rows.length) { location.reload(); return; }
    (data.documents || []).forEach((d, i) => {
      rows[i].querySelector(".count").textContent = d.length;
      const n = data.page_numbers[i];
      rows[i].querySelector(".pageno").textContent = n ? (n[0] === n[1] ? `${n[0]}` : `${n[0]}–${n[1]}`) : "—";
    });
    const starts = new Set((data.documents || []).map((d) => d[0]));
    $$("#strip .thumb").forEach((f) => f.classList.toggle("doc-start", starts.has(Number(f.dataset.seq))));
    $$("[data-err]", form).forEach((el) => { el.textContent = (data.errors || {})[el.dataset.err] || ""; });
    $$("input", form).forEach((el) => el.classList.toggle("invalid", !!(data.errors || {})[el.name]));
  }
  $("#save-catalogue").addEventListener("click", async () => {
    const fields = {}, rows = [];
    for (const el of $$("input", form)) {
      const [kind, a, b] = el.name.split(".");
      if (kind === "fields") fields[a] = el.value;
      else if (kind === "rows") { rows[Number(a)] = rows[Number(a)] || {}; rows[Number(a)][b] = el.value; }
    }
    const data = await api(`/api/batch/${batch}/catalogue`, { fields, rows });
    update(data);
    $("#save-state").textContent = data._status === 200 ? "✓ case.toml" : "✗";
    $("#save-state").dataset.ok = data._status === 200 ? "yes" : "no";
    if (data._status === 200) refreshSheets();
  });
  function refreshSheets() {  // the printed sheets, redrawn from the case file just saved
    const box = $("#sheets"); box.hidden = false;
    for (const img of $$("img.sheet-preview", box)) img.src = `${box.dataset.base}${img.dataset.which}.png?t=${Date.now()}`;
  }
  let dragged = null;
  $("#strip").addEventListener("dragstart", (e) => { dragged = e.target.closest(".thumb"); e.dataTransfer.setData("text/plain", dragged.dataset.seq); });
  for (const tr of $$("tr.catrow", form)) {
    tr.addEventListener("dragover", (e) => { e.preventDefault(); tr.classList.add("over"); });
    tr.addEventListener("dragleave", () => tr.classList.remove("over"));
    tr.addEventListener("drop", async (e) => {
      e.preventDefault(); tr.classList.remove("over"); if (!dragged) return;
      const data = await api(`/api/batch/${batch}/assign`, { seq: Number(dragged.dataset.seq), row: Number(tr.dataset.row) });
      update(data);
    });
  }
}

/* ---------------- verify ---------------- */
function initVerify() {
  const f = $("#verify-form"); if (!f) return;
  f.addEventListener("submit", async (e) => {
    e.preventDefault();
    const box = $("#verify-report"); box.dataset.ok = ""; box.textContent = "…";
    const r = await fetch("/api/verify", { method: "POST", body: new FormData(f), headers: { "X-CSRF-Token": CSRF() } });
    const data = await r.json().catch(() => ({}));
    if (!r.ok) { box.textContent = ""; toast((data.error || r.statusText) + (data.hint ? " — " + data.hint : ""), true); return; }
    const t = I18N();
    box.innerHTML = "";
    const h = document.createElement("h2"); h.className = data.ok ? "good" : "bad";
    h.textContent = (data.ok ? t.valid : t.not_valid) + " — " + data.file;
    const sha = document.createElement("p"); sha.innerHTML = "<code></code>"; sha.firstChild.textContent = "sha256 " + data.sha256;
    const ul = document.createElement("ul"); ul.className = "checks";
    for (const c of data.checks) {
      const li = document.createElement("li"); li.className = c.label === "note" ? "note" : (c.ok ? "ok" : "bad");
      li.dataset.label = c.label; const b = document.createElement("b"); b.textContent = c.title + " "; li.append(b, document.createTextNode(c.detail)); ul.appendChild(li);
    }
    box.append(h, sha, ul); box.dataset.ok = data.ok ? "yes" : "no";
  });
}

/* ---------------- sign (讯问笔录) ---------------- */
function renderChecks(ul, checks) {
  ul.innerHTML = "";
  for (const c of checks) {
    const li = document.createElement("li"); li.className = c.label === "note" ? "note" : (c.ok ? "ok" : "bad"); li.dataset.label = c.label;
    const b = document.createElement("b"); b.textContent = (c.title || c.label) + " "; li.append(b, document.createTextNode(c.detail)); ul.appendChild(li);
  }
}
function initSign() {
  const tf = $("#transcript-form"); if (!tf) return;
  tf.addEventListener("submit", async (e) => {
    e.preventDefault();
    const r = await fetch("/api/sign", { method: "POST", body: new FormData(tf), headers: { "X-CSRF-Token": CSRF() } });
    const data = await r.json().catch(() => ({}));
    if (!r.ok) { toast((data.error || r.statusText) + (data.hint ? " — " + data.hint : ""), true); return; }
    location.href = data.url;
  });
  const sf = $("#sign-form"); if (!sf) return;
  const id = sf.dataset.sign, t = I18N(), log = $("#sign-log"), state = $("#sign-state");
  const es = new EventSource(`/sign/${id}/events`);
  const line = (level, msg) => { const li = document.createElement("li"); li.className = level; li.textContent = msg; log.appendChild(li);
    while (log.children.length > 12) log.removeChild(log.firstChild); };
  es.addEventListener("sign", (m) => { const ev = JSON.parse(m.data);
    if (ev.level === "progress" && log.lastChild && log.lastChild.className === "progress") log.lastChild.textContent = ev.message;
    else line(ev.level, ev.message); });
  const pad = $("#pad"), ctx = pad.getContext("2d"); let last = null; window.__inkPoints = 0;
  ctx.lineWidth = 2.5; ctx.lineCap = "round"; ctx.strokeStyle = "#0f172a";
  es.addEventListener("pad", () => { ctx.clearRect(0, 0, pad.width, pad.height); last = null; });
  es.addEventListener("ink", (m) => {  // the suspect's pen, drawn as it moves on the pad
    for (const [x, y, down] of JSON.parse(m.data).points) {
      const px = x * pad.width, py = y * pad.height;
      if (down && last) { ctx.beginPath(); ctx.moveTo(last[0], last[1]); ctx.lineTo(px, py); ctx.stroke(); }
      last = down ? [px, py] : null; window.__inkPoints += down;
    }
  });
  es.addEventListener("captured", (m) => { const ev = JSON.parse(m.data);
    $("#sig-img").src = ev.signature; $("#fp-img").src = ev.fingerprint; $("#captured").hidden = false; });
  es.addEventListener("job", (m) => { const ev = JSON.parse(m.data);
    state.dataset.state = ev.state; state.textContent = (t[ev.state] || ev.state) + (ev.message ? " — " + ev.message : "");
    if (ev.state === "done" && ev.result && ev.result.verify) {
      const v = ev.result.verify; $("#signed").hidden = false;
      $("#signed-verdict").textContent = (v.ok ? t.valid : t.not_valid) + " — signed.pdf"; $("#signed-verdict").className = v.ok ? "good" : "bad";
      $("#signed-sha").textContent = "sha256 " + ev.result.sha256; renderChecks($("#signed-checks"), v.checks);
    } });
  sf.addEventListener("submit", async (e) => { e.preventDefault(); log.innerHTML = ""; $("#signed").hidden = true;
    await api(`/api/sign/${id}/start`, Object.fromEntries(new FormData(sf).entries())); });
  $("#confirm").addEventListener("click", async () => { $("#captured").hidden = true; await api(`/api/sign/${id}/decide`, { choice: "confirm" }); });
  $("#retry-sign").addEventListener("click", async () => { $("#captured").hidden = true; await api(`/api/sign/${id}/decide`, { choice: "retry" }); });
}

/* ---------------- queues ---------------- */
function initQueues() {
  for (const b of $$("button.retry")) {
    b.addEventListener("click", async () => {
      b.disabled = true;
      const data = await api("/api/queues/retry", { folder: Number(b.dataset.folder), job: b.dataset.job });
      toast(`${data.requeued} ✓`); setTimeout(() => location.reload(), 600);
    });
  }
}

/* ---------------- build ---------------- */
function initBuild() {
  const b = $("#build-form"); if (!b) return;
  listen(b.dataset.events);
  $("#start-build").addEventListener("click", async () => {
    $("#build-state").dataset.state = "running";
    await api(`/api/batch/${b.dataset.batch}/build`, { engine: $("#engine").value });
  });
}

document.addEventListener("DOMContentLoaded", () => { initUpload(); initScan(); initCheck(); initLarge(); initCatalogue(); initBuild(); initVerify(); initQueues(); initSign(); });
