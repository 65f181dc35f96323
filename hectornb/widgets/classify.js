// The Classify app's front end: toolbar, card grid with finder charts, help, keyboard.
// Python holds the truth: every action is a message, and cards redraw from model state.

const SVGNS = "http://www.w3.org/2000/svg";

// Inline icons (no icon font, no CDN): 20x20 viewBox paths.
const ICONS = {
  check: '<path d="M4 10.5l4 4 8-9" fill="none" stroke="currentColor" stroke-width="2.4"/>',
  "star-outline":
    '<path d="M10 2l2.4 5 5.4.6-4 3.7 1.1 5.4L10 14l-4.9 2.7 1.1-5.4-4-3.7 5.4-.6z" fill="none" stroke="currentColor" stroke-width="1.6"/>',
  star: '<path d="M10 2l2.4 5 5.4.6-4 3.7 1.1 5.4L10 14l-4.9 2.7 1.1-5.4-4-3.7 5.4-.6z" fill="currentColor"/>',
  subcomponent:
    '<ellipse cx="10" cy="10" rx="8" ry="5" fill="none" stroke="currentColor" stroke-width="1.5"/><circle cx="13" cy="9" r="2.2" fill="currentColor"/>',
  "large-galaxy":
    '<ellipse cx="10" cy="10" rx="9" ry="6" fill="none" stroke="currentColor" stroke-width="1.5"/><ellipse cx="10" cy="10" rx="4" ry="2.5" fill="currentColor"/>',
  target:
    '<circle cx="10" cy="10" r="7.5" fill="none" stroke="currentColor" stroke-width="1.5"/><circle cx="10" cy="10" r="3.5" fill="none" stroke="currentColor" stroke-width="1.5"/><path d="M10 0v5M10 15v5M0 10h5M15 10h5" stroke="currentColor" stroke-width="1.5"/>',
  ban: '<circle cx="10" cy="10" r="7.5" fill="none" stroke="currentColor" stroke-width="2"/><path d="M4.7 15.3L15.3 4.7" stroke="currentColor" stroke-width="2"/>',
  warning:
    '<path d="M10 2L19 18H1z" fill="none" stroke="currentColor" stroke-width="1.6"/><path d="M10 7.5v5" stroke="currentColor" stroke-width="2"/><circle cx="10" cy="15" r="1.1" fill="currentColor"/>',
  pair: '<ellipse cx="7" cy="11" rx="5.5" ry="3.5" fill="none" stroke="currentColor" stroke-width="1.5"/><ellipse cx="15" cy="7" rx="3" ry="2" fill="currentColor"/>',
};

function icon(name) {
  return `<svg class="hnb-icon" viewBox="0 0 20 20" aria-hidden="true">${ICONS[name] || ""}</svg>`;
}

function shareBase() {
  // In Voilà the page itself is the app; in JupyterLab link to the app rendered by Voilà.
  const loc = window.location;
  if (/\/(voila\/render|hectornb\/apps)\//.test(loc.pathname)) return loc.origin + loc.pathname;
  return loc.origin + baseUrl() + "hectornb/apps/classify.ipynb";
}

function shareUrl(list, target) {
  const q = new URLSearchParams({ list });
  if (target) q.set("target", target);
  return `${shareBase()}?${q}`;
}

// ---- finder chart -----------------------------------------------------------------------

function magRadius(mag, kind) {
  if (mag === null || mag === undefined) return kind === "galaxy" ? 4 : 2;
  return Math.max(1.5, Math.min(9, 9 - 0.55 * (mag - 4)));
}

function finderChart(card, info, fov, bundles, toggles, catalogueNames) {
  const size = 200, pad = 26, plot = size - 2 * pad;
  const scale = plot / fov; // px per arcsec
  const cx = pad + plot / 2, cy = pad + plot / 2;
  const parts = [];
  // The sky area is a nested <svg>, which clips sources and outlines at the chart's edge.
  const sky = [`<rect x="0" y="0" width="${plot}" height="${plot}" class="hnb-sky"/>`];
  if (info && info.cutout) {
    sky.push(`<image class="hnb-cutout" href="${info.cutout}" x="0" y="0" width="${plot}" height="${plot}" preserveAspectRatio="none"/>`);
  }
  const half = fov / 2, mid = plot / 2;
  const sources = (info && info.sources) || [];
  for (const s of sources) {
    if (!toggles.catalogues[s.catalogue]) continue;
    const x = mid - s.dx * scale, y = mid - s.dy * scale; // east is left
    const r = s.size ? Math.max(2, (s.size / 2) * scale) : magRadius(s.mag, s.kind);
    if (Math.abs(s.dx) - (r / scale) > half || Math.abs(s.dy) - (r / scale) > half) continue;
    const tip = `r = ${s.r.toFixed(2)}″; ${s.band} = ${s.mag === null ? "?" : s.mag.toFixed(2)}${s.mag_err !== null ? " ± " + s.mag_err.toFixed(2) : ""} mag`;
    sky.push(
      `<circle class="hnb-src hnb-${s.kind}" cx="${x.toFixed(1)}" cy="${y.toFixed(1)}" r="${r.toFixed(1)}" data-tip="${esc(tip)}" data-id="${esc(s.catalogue + " " + s.id)}"/>`
    );
  }
  for (const [name, dia] of Object.entries(bundles)) {
    if (!toggles.bundles[name]) continue;
    sky.push(`<circle class="hnb-bundle hnb-bundle-${name}" cx="${mid}" cy="${mid}" r="${((dia / 2) * scale).toFixed(1)}"><title>${name} hexabundle, ${dia}″</title></circle>`);
  }
  sky.push(`<path class="hnb-cross" d="M${mid - 6} ${mid}h4M${mid + 2} ${mid}h4M${mid} ${mid - 6}v4M${mid} ${mid + 2}v4"/>`);
  parts.push(`<svg x="${pad}" y="${pad}" width="${plot}" height="${plot}" viewBox="0 0 ${plot} ${plot}">${sky.join("")}</svg>`);
  // axes: RA (deg) increasing to the left, Dec (deg) upwards
  const cosd = Math.max(Math.cos((card.dec * Math.PI) / 180), 1e-6);
  const raL = card.ra + half / 3600 / cosd, raR = card.ra - half / 3600 / cosd;
  const decT = card.dec + half / 3600, decB = card.dec - half / 3600;
  parts.push(`<text class="hnb-axis" x="${pad}" y="${size - pad + 12}" text-anchor="start">${raL.toFixed(3)}</text>`);
  parts.push(`<text class="hnb-axis" x="${size - pad}" y="${size - pad + 12}" text-anchor="end">${raR.toFixed(3)}</text>`);
  parts.push(`<text class="hnb-axis" x="${cx}" y="${size - 3}" text-anchor="middle">RA / deg</text>`);
  parts.push(`<text class="hnb-axis" x="${pad - 3}" y="${pad + 4}" text-anchor="end" transform="rotate(-90 ${pad - 3} ${pad + 4})">${decT.toFixed(3)}</text>`);
  parts.push(`<text class="hnb-axis" x="${pad - 3}" y="${size - pad}" text-anchor="start" transform="rotate(-90 ${pad - 3} ${size - pad})">${decB.toFixed(3)}</text>`);
  parts.push(`<text class="hnb-axis" x="10" y="${cy}" text-anchor="middle" transform="rotate(-90 10 ${cy})">Dec / deg</text>`);
  const loading = info ? "" : `<text class="hnb-loading" x="${cx}" y="${pad + 14}" text-anchor="middle">loading catalogues…</text>`;
  return `<svg class="hnb-chart" viewBox="0 0 ${size} ${size}" width="${size}" height="${size}" role="img" aria-label="finder chart of ${esc(card.name)}">${parts.join("")}${loading}</svg>`;
}

// ---- the app ------------------------------------------------------------------------------

function render({ model, el }) {
  const root = document.createElement("div");
  root.className = "hnb-classify";
  root.tabIndex = 0;
  root.dataset.testid = "classify";
  el.appendChild(root);

  const toggles = new Map(); // target -> {bundles:{}, catalogues:{}}
  const pending = new Set();
  const inVoila = /\/(voila\/render|hectornb\/apps)\//.test(window.location.pathname);

  function togglesFor(name) {
    if (!toggles.has(name)) {
      const b = {}, c = {};
      for (const k of Object.keys(model.get("bundles"))) b[k] = true;
      for (const k of model.get("catalogue_names")) c[k] = true;
      toggles.set(name, { bundles: b, catalogues: c });
    }
    return toggles.get(name);
  }

  root.innerHTML = `
    <div class="hnb-toolbar">
      <div class="hnb-group hnb-upload">
        <input type="file" accept=".csv,.txt" data-testid="file">
        <label><input type="checkbox" data-testid="overwrite"> Overwrite</label>
        <button data-act="upload" data-testid="load-file">Load File</button>
      </div>
      <div class="hnb-group">
        <select data-testid="lists" aria-label="stored target lists"></select>
        <button data-act="download" data-testid="download">Download</button>
        <label class="hnb-small"><input type="checkbox" data-testid="per-user"> per user</label>
        <button data-act="delete" data-testid="delete">Delete</button>
      </div>
      <div class="hnb-group">
        <button data-act="prev" data-testid="prev" title="previous page (←)">Prev</button>
        <button data-act="next" data-testid="next" title="next page (→)">Next</button>
        <span class="hnb-range" data-testid="range"></span>
        <select data-testid="per-page" aria-label="targets per page"></select>
      </div>
      <div class="hnb-group">
        <select data-testid="class-filter" aria-label="classification filter">
          <option value="all">All</option><option value="unclassified">Unclassified</option>
          <option value=">0">&gt; 0</option>
          ${[0, 1, 2, 3, 4, 5, 6, 7, 8].map((i) => `<option value="${i}">${i}</option>`).join("")}
          <option value="disagree">Disagree</option>
        </select>
        <input type="search" placeholder="Filter target…" data-testid="name-filter" aria-label="target name filter">
        <label class="hnb-small" title="regular expression"><input type="checkbox" data-testid="regex"> regex</label>
        <input type="search" placeholder="Jump to target…" data-testid="jump" aria-label="jump to target">
        <button data-act="help" data-testid="help-button">Help</button>
      </div>
      <div class="hnb-group hnb-who">
        <span data-testid="progress"></span> · <span data-testid="user"></span>
      </div>
    </div>
    <div class="hnb-confirm" data-testid="confirm" hidden></div>
    <div class="hnb-message" data-testid="message" hidden></div>
    <div class="hnb-legend" data-testid="legend"></div>
    <div class="hnb-grid" data-testid="grid"></div>
    <div class="hnb-help" data-testid="help" hidden role="dialog" aria-modal="true" aria-label="help"></div>`;

  const q = (sel) => root.querySelector(`[data-testid="${sel}"]`);
  const grid = q("grid");

  // what the finder charts draw, in their own colours
  function drawLegend() {
    const swatch = (cls, r = 6, extra = "") =>
      `<svg width="16" height="16" viewBox="0 0 16 16" aria-hidden="true"><rect width="16" height="16" class="hnb-sky"/><circle cx="8" cy="8" r="${r}" class="${cls}" ${extra}/></svg>`;
    const bundles = model.get("bundles");
    q("legend").innerHTML = `Finder charts (north up, east left; the cross is the target):
      <span>${swatch("hnb-bundle hnb-bundle-small")} small hexabundle, ${bundles.small}″</span>
      <span>${swatch("hnb-bundle hnb-bundle-large")} large hexabundle, ${bundles.large}″</span>
      <span>${swatch("hnb-src hnb-galaxy")} galaxy (catalogue size)</span>
      <span>${swatch("hnb-src hnb-star", 3.5)} star (bigger is brighter)</span>
      <span>${model.get("has_cutouts") ? "sky images where the cutout folder has one, else dark sky"
        : "dark sky: no sky images here (HECTORNB_CUTOUTS names a folder of them)"}</span>`;
  }
  drawLegend();
  model.on("change:has_cutouts", drawLegend);

  function send(msg, buffers) { sendSafely(model, msg, buffers); }

  function query(extra = {}) {
    send({
      type: "query",
      list: q("lists").value,
      per_page: Number(q("per-page").value),
      badclass: q("class-filter").value,
      name: q("name-filter").value,
      regex: q("regex").checked,
      offset: 0,
      ...extra,
    });
  }

  // ---- drawing ---------------------------------------------------------------------------

  function badclassInfo(v) {
    return model.get("badclasses")[v];
  }

  function cardHtml(card, sourcesInfo) {
    const info = sourcesInfo[card.name];
    const tg = togglesFor(card.name);
    const cls = card.badclass;
    const fov = model.get("fov_arcsec");
    const suggestion = info && info.suggestion
      ? `<div class="hnb-suggest" data-testid="suggestion">suggested ${info.suggestion.badclass}: ${esc(info.suggestion.reason)}</div>` : "";
    const radios = model.get("badclasses").map((bc) =>
      `<button class="hnb-radio${cls === bc.value ? " hnb-on" : ""}" role="radio" aria-checked="${cls === bc.value}" data-value="${bc.value}" title="${bc.value} - ${esc(bc.label)}: ${esc(bc.meaning)}">${icon(bc.icon)}<span>${bc.value}</span></button>`
    ).join("");
    const bundleToggles = Object.keys(model.get("bundles")).map((k) =>
      `<label><input type="checkbox" data-bundle="${k}" ${tg.bundles[k] ? "checked" : ""}> ${k[0].toUpperCase() + k.slice(1)}</label>`).join(" ");
    const catToggles = model.get("catalogue_names").map((k) =>
      `<label><input type="checkbox" data-catalogue="${k}" ${tg.catalogues[k] ? "checked" : ""}> ${esc(k)}</label>`).join(" ");
    return `
      <div class="hnb-card${card.name === model.get("active") ? " hnb-active" : ""}${pending.has(card.name) ? " hnb-pending" : ""}${card.disagree ? " hnb-disagree" : ""}" data-target="${esc(card.name)}" data-badclass="${cls ?? ""}">
        <div class="hnb-head"><span class="hnb-name">${esc(card.name)}</span>
          <a class="hnb-link" href="${esc(shareUrl(model.get("list_name"), card.name))}" title="link to this target" target="_blank" rel="noopener">↗</a></div>
        <div class="hnb-coords">J2000 ${esc(card.ra_s)} ${esc(card.dec_s)}</div>
        ${finderChart(card, info, fov, model.get("bundles"), tg, model.get("catalogue_names"))}
        <div class="hnb-fov">FoV: ${fov.toFixed(2)}″</div>
        <div class="hnb-tip" data-testid="tip">&nbsp;</div>
        <div class="hnb-class" data-testid="badclass">${classLine(card)}</div>
        <div class="hnb-radios" role="radiogroup" aria-label="BADCLASS">${radios}</div>
        <div class="hnb-toggles">Bundle: ${bundleToggles}</div>
        <div class="hnb-toggles">${catToggles}</div>
        ${suggestion}
      </div>`;
  }

  function classLine(card) {
    const cls = card.badclass;
    const b = cls === null || cls === undefined ? null : badclassInfo(cls);
    const who = b ? `${esc(card.classified_by)}${card.n_classifiers > 1 ? ` +${card.n_classifiers - 1}` : ""}` : "";
    return `<b>BADCLASS: ${cls ?? "–"}</b> <span class="hnb-meaning">${b ? esc(b.label) : "unclassified"}</span> <span class="hnb-by">${who}</span>${card.disagree ? ' <span class="hnb-flag" title="classifiers disagree">≠</span>' : ""}`;
  }

  function updateCardState(el, card) {
    // Only what a classification changes: the finder chart stays as it is.
    const cls = card.badclass;
    el.dataset.badclass = cls ?? "";
    el.classList.remove("hnb-pending");
    el.classList.toggle("hnb-disagree", !!card.disagree);
    el.querySelector(".hnb-class").innerHTML = classLine(card);
    for (const r of el.querySelectorAll(".hnb-radio")) {
      const on = Number(r.dataset.value) === cls;
      r.classList.toggle("hnb-on", on);
      r.setAttribute("aria-checked", String(on));
    }
  }

  function drawGrid() {
    const srcs = model.get("sources") || {};
    const cards = model.get("cards");
    grid.innerHTML = cards.map((c) => cardHtml(c, srcs)).join("") ||
      `<div class="hnb-empty">${model.get("list_name") ? "No targets match the filters." : "Load a target list to begin."}</div>`;
    grid.dataset.count = String(cards.length);
  }

  function drawToolbar() {
    const sel = q("lists");
    const lists = model.get("lists");
    sel.innerHTML = lists.map((l) => `<option value="${esc(l.name)}">${esc(l.name)} (${l.n_targets})</option>`).join("");
    sel.value = model.get("list_name");
    const pp = q("per-page");
    pp.innerHTML = model.get("per_page_choices").map((n) => `<option value="${n}">${n}</option>`).join("");
    pp.value = String(model.get("per_page"));
    q("class-filter").value = model.get("class_filter");
    if (document.activeElement !== q("name-filter")) q("name-filter").value = model.get("name_filter");
    q("regex").checked = model.get("regex");
    q("range").textContent = model.get("label");
    const p = model.get("progress") || {};
    q("progress").textContent = p.total !== undefined ? `${(p.done || 0).toLocaleString("en")} of ${p.total.toLocaleString("en")} done` : "";
    q("user").textContent = model.get("user");
  }

  function drawMessage() {
    const m = model.get("message") || {};
    const box = q("message");
    if (!m.text) { box.hidden = true; return; }
    box.hidden = false;
    box.className = `hnb-message hnb-${m.kind || "info"}`;
    const lines = m.lines || [];
    const shown = lines.slice(0, 50).map((l) => `<li>${esc(l)}</li>`).join("");
    const more = lines.length > 50 ? `<li>… and ${lines.length - 50} more</li>` : "";
    box.innerHTML = `<span>${esc(m.text)}</span>${lines.length ? `<ul>${shown}${more}</ul>` : ""}<button class="hnb-close" aria-label="dismiss">×</button>`;
  }

  function drawHelp() {
    const classes = model.get("badclasses").map((b) =>
      `<li>${icon(b.icon)} <b>${b.value}</b> ${esc(b.meaning)}</li>`).join("");
    q("help").innerHTML = `
      <div class="hnb-help-box">
        <h2>Hector Target Selector Help</h2>
        <h3>Input File Format</h3>
        <p>Load a list of target coordinates, one per line: <code>Target,RA,DEC</code></p>
        <pre>000.0-06.8,273.3251257,-32.3286112\n000.1+02.6,263.8973961,-27.4009405</pre>
        <pre>NGC6337,17:22:15.67,-38:29:01.73\nNGC6326,17 20 46.252, -51 45 15.17</pre>
        <ul>
          <li>The filename must end with '.csv' or '.txt'</li>
          <li>Each target name must be unique</li>
          <li>There must be only 3 columns, in the order target, ra, dec</li>
          <li>RA/DEC may be either decimal degrees or sexagesimal format</li>
          <li>Sexagesimal coordinates may include ':' or ' ' (space) as separators</li>
          <li>Lines starting with '#' (comments) and blank lines are ignored</li>
        </ul>
        <p>If targets seem to be missing, clear the classification and name filters.</p>
        <h3>BADCLASS Categories</h3>
        <ul class="hnb-classes">${classes}</ul>
        <h3>Keyboard</h3>
        <p>Hover a card to make it active. <kbd>0</kbd>–<kbd>8</kbd> classify it,
        <kbd>Backspace</kbd> undoes your last classification, <kbd>←</kbd>/<kbd>→</kbd> change page,
        <kbd>↑</kbd>/<kbd>↓</kbd> move between cards, <kbd>?</kbd> opens this help.</p>
        <button data-act="help-ok" data-testid="help-ok">Ok</button>
      </div>`;
  }

  function setActive(name) {
    if (!name || model.get("active") === name) return;
    model.set("active", name);
    saveSafely(model);
    for (const c of grid.querySelectorAll(".hnb-card")) c.classList.toggle("hnb-active", c.dataset.target === name);
    if (inVoila) history.replaceState(null, "", shareUrl(model.get("list_name"), name));
  }

  // ---- events ----------------------------------------------------------------------------

  root.addEventListener("click", (ev) => {
    const btn = ev.target.closest("button");
    if (btn && btn.classList.contains("hnb-radio")) {
      const card = btn.closest(".hnb-card");
      classify(card.dataset.target, Number(btn.dataset.value));
      return;
    }
    if (btn && btn.classList.contains("hnb-close")) { q("message").hidden = true; return; }
    const act = btn && btn.dataset.act;
    if (act === "prev") send({ type: "page", step: -1 });
    else if (act === "next") send({ type: "page", step: 1 });
    else if (act === "help") { drawHelp(); q("help").hidden = false; q("help-ok").focus(); }
    else if (act === "help-ok") { q("help").hidden = true; root.focus(); }
    else if (act === "download") send({ type: "download", per_user: q("per-user").checked });
    else if (act === "upload") upload();
    else if (act === "delete") confirmDelete();
    else if (act === "confirm-delete") { q("confirm").hidden = true; send({ type: "delete", list: btn.dataset.list }); }
    else if (act === "cancel") q("confirm").hidden = true;
  });

  root.addEventListener("change", (ev) => {
    const t = ev.target;
    if (t.dataset.bundle || t.dataset.catalogue) {
      const card = t.closest(".hnb-card");
      const tg = togglesFor(card.dataset.target);
      if (t.dataset.bundle) tg.bundles[t.dataset.bundle] = t.checked;
      else tg.catalogues[t.dataset.catalogue] = t.checked;
      drawGrid();
      return;
    }
    const id = t.dataset.testid;
    if (id === "lists" || id === "per-page" || id === "class-filter" || id === "regex") query();
  });

  let filterTimer = null;
  root.addEventListener("input", (ev) => {
    if (ev.target.dataset.testid === "name-filter") {
      clearTimeout(filterTimer);
      filterTimer = setTimeout(() => query(), 250);
    }
  });

  root.addEventListener("keydown", (ev) => {
    const t = ev.target;
    if (t.dataset && t.dataset.testid === "jump" && ev.key === "Enter") {
      send({ type: "jump", target: t.value });
      t.blur(); root.focus();
      return;
    }
    if (ev.key === "Escape" && !q("help").hidden) { q("help").hidden = true; root.focus(); return; }
    if (["INPUT", "SELECT", "TEXTAREA"].includes(t.tagName)) return;
    if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
    const active = model.get("active");
    if (/^[0-8]$/.test(ev.key) && active) { classify(active, Number(ev.key)); ev.preventDefault(); }
    else if (ev.key === "Backspace") { send({ type: "undo" }); ev.preventDefault(); }
    else if (ev.key === "ArrowRight") { send({ type: "page", step: 1 }); ev.preventDefault(); }
    else if (ev.key === "ArrowLeft") { send({ type: "page", step: -1 }); ev.preventDefault(); }
    else if (ev.key === "ArrowDown" || ev.key === "ArrowUp") {
      const names = model.get("cards").map((c) => c.name);
      const i = names.indexOf(active) + (ev.key === "ArrowDown" ? 1 : -1);
      if (i >= 0 && i < names.length) setActive(names[i]);
      ev.preventDefault();
    } else if (ev.key === "?") { drawHelp(); q("help").hidden = false; }
  });

  grid.addEventListener("mouseover", (ev) => {
    const card = ev.target.closest(".hnb-card");
    if (card) {
      setActive(card.dataset.target);
      const focused = document.activeElement;
      if (!focused || !["INPUT", "SELECT", "TEXTAREA"].includes(focused.tagName)) root.focus({ preventScroll: true });
    }
    const src = ev.target.closest(".hnb-src");
    if (src && card) card.querySelector(".hnb-tip").textContent = src.dataset.tip;
  });

  function classify(name, value) {
    pending.add(name);
    const el = [...grid.querySelectorAll(".hnb-card")].find((c) => c.dataset.target === name);
    if (el) el.classList.add("hnb-pending");
    send({ type: "classify", target: name, value });
  }

  async function upload() {
    const input = q("file");
    const file = input.files && input.files[0];
    if (!file) { model.set("message", { kind: "error", text: "Choose a .csv or .txt file first." }); drawMessage(); return; }
    const buffer = await file.arrayBuffer();
    send({ type: "upload", filename: file.name, overwrite: q("overwrite").checked }, [buffer]);
  }

  function confirmDelete() {
    const name = q("lists").value;
    if (!name) return;
    const box = q("confirm");
    box.innerHTML = `Delete the list <b>${esc(name)}</b>? Its classifications stay in the history.
      <button data-act="confirm-delete" data-list="${esc(name)}" data-testid="confirm-delete">Yes, delete</button>
      <button data-act="cancel">Cancel</button>`;
    box.hidden = false;
  }

  model.on("msg:custom", (msg) => {
    if (msg.type === "card") {
      // one target changed: update our copy of the page and redraw that card only
      const cards = model.get("cards");
      const i = cards.findIndex((c) => c.name === msg.card.name);
      if (i >= 0) cards[i] = msg.card;
      pending.delete(msg.card.name);
      const el = [...grid.querySelectorAll(".hnb-card")].find((c) => c.dataset.target === msg.card.name);
      if (el) updateCardState(el, msg.card);
      return;
    }
    if (msg.type === "download") {
      const blob = new Blob([msg.text], { type: "text/csv" });
      const a = document.createElement("a");
      a.href = URL.createObjectURL(blob);
      a.download = msg.filename;
      document.body.appendChild(a);
      a.click();
      setTimeout(() => { URL.revokeObjectURL(a.href); a.remove(); }, 1000);
    }
  });

  model.on("change:cards", () => { pending.clear(); drawGrid(); drawToolbar(); });
  model.on("change:sources", drawGrid);
  model.on("change:active", () => {
    for (const c of grid.querySelectorAll(".hnb-card")) c.classList.toggle("hnb-active", c.dataset.target === model.get("active"));
  });
  for (const name of ["lists", "list_name", "label", "progress", "per_page", "class_filter", "name_filter", "regex"]) {
    model.on(`change:${name}`, drawToolbar);
  }
  model.on("change:message", () => { pending.clear(); drawMessage(); drawGrid(); });

  drawToolbar();
  drawGrid();
  drawMessage();

  // The page URL opens the app at a list and target (shareable links).
  const params = Object.fromEntries(new URLSearchParams(window.location.search));
  send({ type: "init", params });
  if (inVoila) root.focus({ preventScroll: true });
  noteIfNoAladin("The finder charts on the cards work without it.");
  root.dataset.ready = "true";
}

export default { render };
