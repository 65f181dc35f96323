// The Obslog app's front end: home cards, table grids, tile/run/target pages, the API page.
// Python holds the truth (the observing log); the page sends actions and draws state.

const TITLES = { targets: "Target", stars: "Star", tiles: "Tile", runs: "Run", logs: "Logs" };

function shown(field, value, night) {
  if (value === null || value === undefined) return "";
  if (field.kind === "json") return JSON.stringify(value);
  if (field.kind === "texts") return value.join(", ");
  if (field.kind === "time") {
    // a UT time: hh:mm:ss, with its date only when it is not the night's
    const iso = String(value).replace(" ", "T");
    const [date, rest] = iso.split("T");
    const hms = (rest || "").slice(0, 8);
    return date === night ? hms : `${date} ${hms}`;
  }
  return String(value);
}

// what a field's input says it expects
// a generated id (a UUID) by its first eight characters, as git shows commits
function short(id) {
  return String(id ?? "").length > 12 ? `${String(id).slice(0, 8)}…` : String(id ?? "");
}

function count(n, noun) {
  return `<b>${n.toLocaleString("en")}</b> ${noun}${n === 1 ? "" : "s"}`;
}

function hint(field) {
  if (field.kind === "time") return "hh:mm UT";
  if (field.kind === "date") return "YYYY-MM-DD";
  if (field.kind === "texts") return "word, word";
  if (field.kind === "json") return "JSON";
  return field.name;
}

// the editor of one field: a dropdown for a choice or a yes/no, else a text box (with the
// usual values offered where the field has some)
function editor(field, value, attrs = "") {
  const options = field.kind === "choice" ? field.choices
    : field.kind === "bool" ? ["true", "false"] : null;
  if (options) {
    return `<select ${attrs} data-field="${field.name}"><option value=""></option>${options.map((c) =>
      `<option ${String(value) === c ? "selected" : ""}>${esc(c)}</option>`).join("")}</select>`;
  }
  const list = field.suggestions && field.suggestions.length ? `list="hnb-suggest-${field.name}"` : "";
  return `<input ${attrs} ${list} data-field="${field.name}" value="${esc(value ?? "")}" ` +
    `placeholder="${esc(hint(field))}${field.required ? " *" : ""}" title="${esc(field.description)}` +
    `${field.unit ? ` (${esc(field.unit)})` : ""}">`;
}

function suggestions(fields) {
  return fields.filter((f) => f.suggestions && f.suggestions.length).map((f) =>
    `<datalist id="hnb-suggest-${f.name}">${f.suggestions.map((v) => `<option value="${esc(v)}">`).join("")}</datalist>`).join("");
}

function parsed(field, text) {
  if (text === "") return null;
  if (field.kind === "json") { try { return JSON.parse(text); } catch (e) { return text; } }
  if (field.kind === "texts") return text.split(",").map((s) => s.trim()).filter(Boolean);
  return text;
}

// a log's night opens in the Reduce app (its archive query for that night)
function reduceLink(night) {
  if (!night) return "";
  const yymmdd = night.slice(2, 4) + night.slice(5, 7) + night.slice(8, 10);
  return `<a class="hnb-reduce-night" target="_blank" href="${appUrl("reduce.ipynb")}?night=${yymmdd}">reduce this night</a>`;
}

function render({ model, el: root }) {
  root.classList.add("hnb-obslog");
  root.dataset.testid = "obslog";
  const markReady = () => (root.dataset.ready = String(Boolean(model.get("ready"))));
  model.on("change:ready", markReady);
  markReady();
  root.innerHTML = `
    <nav class="hnb-obslog-nav">
      <button data-go="home">Home</button>
      <button data-go="api">API</button>
      <span class="hnb-user"></span>
    </nav>
    <div class="hnb-message" data-testid="message" role="status"></div>
    <section class="hnb-page" data-testid="page"></section>`;
  const page = root.querySelector(".hnb-page");
  const schema = () => Object.fromEntries(model.get("schema").map((c) => [c.name, c]));
  const send = (msg) => sendSafely(model, msg);
  let fresh = null; // the unsaved new row of the grid: {field: text}

  const say = () => {
    const m = model.get("message") || {};
    const box = root.querySelector(".hnb-message");
    box.className = `hnb-message hnb-${m.kind || "info"}`;
    box.textContent = m.text || "";
    for (const cell of page.querySelectorAll(".hnb-bad")) cell.classList.remove("hnb-bad");
    for (const e of m.errors || []) {
      const input = page.querySelector(`.hnb-new [data-field="${e.field.split(".")[0]}"]:is(input, select)`);
      if (input) { input.classList.add("hnb-bad"); input.title = e.reason; }
    }
  };
  model.on("change:message", say);
  const user = () => {
    root.querySelector(".hnb-user").innerHTML = `signed in as <b>${esc(model.get("user"))}</b>` +
      (model.get("observer") ? " (observer)" : " (read only)");
  };
  model.on("change:observer", user);

  function drawHome() {
    const counts = model.get("counts");
    page.innerHTML = `<div class="hnb-cards">${Object.entries(TITLES).map(([name, title]) => `
      <div class="hnb-card" data-collection="${name}"><h3>${title}</h3>
        <p>${esc(schema()[name].description)}</p><p>${count(counts[name] ?? 0, "record")}</p>
        <button data-detail="${name}">Check Detail</button></div>`).join("")}
      <div class="hnb-card" data-collection="finalproduct"><h3>Finalproduct</h3><p>reduced products: the Reduce and Explore apps</p>
        <p>${counts.finalproduct === null || counts.finalproduct === undefined ? "reductions: not known here"
          : count(counts.finalproduct, "reduction") + " with products (30 days)"}</p>
        <a class="button" href="${appUrl("reduce.ipynb")}" target="_blank">Check Detail</a></div></div>`;
  }

  // the grid's columns: the pick box and the record's id first and the row's actions last
  // (those stay in view while the grid scrolls sideways), the fields between
  const widths = {}; // column -> width (px) the user dragged it to
  function columns(coll) {
    const key = coll.fields.find((f) => f.name === coll.key);
    return [key, ...coll.fields.filter((f) => f !== key)];
  }

  function drawTable() {
    const v = model.get("view"), coll = schema()[v.collection], rows = model.get("rows");
    const fields = columns(coll);
    const logs = v.collection === "logs";
    const stick = (f) => (f.name === coll.key ? "hnb-stick-key" : "");
    const newRow = fresh ? `<tr class="hnb-new"><td class="hnb-stick-pick"></td>${fields.map((f) =>
      `<td data-col="${f.name}" class="${stick(f)}">${editor(f, fresh[f.name])}</td>`).join("")}<td></td>${logs ? "<td></td>" : ""}<td class="hnb-stick-act"></td></tr>` : "";
    const csv = `${apiBase(model)}obslog/${v.collection}.csv${v.q ? `?q=${encodeURIComponent(v.q)}` : ""}`;
    const head = (name, label, title, cls = "") =>
      `<th data-col="${name}" class="${cls}" title="${esc(title)}">${label}<span class="hnb-resize" data-resize="${name}"></span></th>`;
    page.innerHTML = `
      <h2>${TITLES[v.collection]}</h2>
      <div class="hnb-toolbar">
        <button data-act="add">Add new row</button>
        <button data-act="save" ${fresh ? "" : "disabled"}>Save new row</button>
        <button data-act="selected">Get Selected Rows</button>
        <a class="button" data-testid="csv" href="${csv}" download="${v.collection}.csv">Download CSV export</a>
        ${logs ? `<button data-act="date">Add new Date</button>
          <label>night report <input type="date" data-testid="report-night" value="${esc(model.get("rows")[0]?.night || "")}"></label>
          <a class="button" data-testid="report" target="_blank" href="#">PDF</a>` : ""}
        <input data-testid="search" placeholder="search" value="${esc(v.q || "")}">
        <label><input type="checkbox" data-testid="show-deleted" ${v.deleted ? "checked" : ""}> deleted</label>
        <button data-act="prev" ${v.offset ? "" : "disabled"}>◀</button>
        <span data-testid="range">${rows.length ? `${v.offset + 1}–${v.offset + rows.length}` : "0"} of ${model.get("total")}</span>
        <button data-act="next" ${v.offset + rows.length < model.get("total") ? "" : "disabled"}>▶</button>
      </div>
      ${suggestions(fields)}
      <div class="hnb-grid-scroll" data-testid="grid-scroll">
      <table class="hnb-grid" data-testid="grid"><thead><tr><th class="hnb-stick-pick" title="pick rows for Get Selected Rows"></th>${fields.map((f) =>
        head(f.name, `${esc(f.name)}${f.unit ? ` <small>(${esc(f.unit)})</small>` : ""}${f.kind === "time" ? " <small>(UT)</small>" : ""}`,
             f.description, stick(f))).join("")}${head("version", "version", "the record's version: each edit adds one")}${logs ? head("reduce", "reduce", "the night's frames in the Reduce app") : ""}<th class="hnb-stick-act" data-col="actions">actions</th></tr></thead>
      <tbody>${newRow}${rows.map((r) => `<tr data-id="${esc(r[coll.key])}" data-version="${r.version}">
        <td class="hnb-stick-pick"><input type="checkbox" class="hnb-pick" title="pick this row"></td>
        ${fields.map((f) => `<td data-field="${f.name}" data-col="${f.name}" class="${stick(f)} ${f.name === coll.key && ["tiles", "runs", "targets", "stars"].includes(v.collection) ? "hnb-link" : ""}"${f.name === coll.key ? ` title="${esc(r[f.name])}"` : ""}>${esc(f.name === coll.key && coll.generated_key ? short(r[f.name]) : shown(f, r[f.name], r.night))}</td>`).join("")}
        <td data-col="version">${r.version}</td>${logs ? `<td data-col="reduce">${reduceLink(r.night)}</td>` : ""}
        <td class="hnb-stick-act"><button class="small" data-row="history">history</button>
          <button class="small" data-row="${v.deleted ? "restore" : "delete"}">${v.deleted ? "restore" : "delete"}</button></td></tr>`).join("")}</tbody></table>
      </div>
      <style data-testid="widths">${Object.entries(widths).map(([c, w]) =>
        `.hnb-obslog .hnb-grid [data-col="${c}"] { width: ${w}px; min-width: ${w}px; max-width: ${w}px; }`).join("\n")}</style>
      <pre class="hnb-selected" data-testid="selected" hidden></pre>
      <div data-testid="history"></div>`;
    padScroll();
  }

  // a cell brought into view (focus, Tab) is not left under the sticky columns; the grid
  // ends inside the window, so its last row and scrollbar can be reached
  function padScroll() {
    const scroller = page.querySelector(".hnb-grid-scroll");
    if (scroller) {
      const room = window.innerHeight - scroller.getBoundingClientRect().top - 16;
      scroller.style.maxHeight = `${Math.max(160, Math.round(room))}px`;
    }
    const key = page.querySelector("thead .hnb-stick-key"), act = page.querySelector("thead .hnb-stick-act");
    if (!scroller || !key || !act) return;
    scroller.style.scrollPaddingLeft = `${key.offsetLeft + key.offsetWidth}px`;
    scroller.style.scrollPaddingRight = `${act.offsetWidth}px`;
  }

  // drag a header's right edge to resize its column
  root.addEventListener("mousedown", (ev) => {
    const handle = ev.target.closest("[data-resize]");
    if (!handle) return;
    ev.preventDefault();
    const col = handle.dataset.resize, th = handle.closest("th"), x0 = ev.clientX, w0 = th.offsetWidth;
    const move = (e) => {
      widths[col] = Math.max(40, Math.round(w0 + e.clientX - x0));
      page.querySelector('[data-testid="widths"]').textContent = Object.entries(widths).map(([c, w]) =>
        `.hnb-obslog .hnb-grid [data-col="${c}"] { width: ${w}px; min-width: ${w}px; max-width: ${w}px; }`).join("\n");
    };
    const up = () => { window.removeEventListener("mousemove", move); window.removeEventListener("mouseup", up); padScroll(); };
    window.addEventListener("mousemove", move);
    window.addEventListener("mouseup", up);
  });

  function drawRelated() {
    const v = model.get("view"), r = model.get("related");
    const link = (name, id) => `<a href="#" class="hnb-go" data-collection="${name}" data-id="${esc(id)}">${esc(id)}</a>`;
    const logs = (items) => `<table class="hnb-grid"><thead><tr><th>night</th><th>time</th><th>tile</th><th>run</th><th>seeing</th><th>qc</th><th>comment</th></tr></thead><tbody>${items.map((g) => `<tr><td>${esc(g.night)}</td><td>${esc(g.time || "")}</td><td>${g.tile_id ? link("tiles", g.tile_id) : ""}</td><td>${g.run_id ? link("runs", g.run_id) : ""}</td><td>${esc(g.seeing ?? "")}</td><td>${esc(g.qc ?? "")}</td><td>${esc(g.comment ?? "")}</td></tr>`).join("")}</tbody></table>`;
    if (v.collection === "tiles") {
      const t = r.tile;
      page.innerHTML = `<h2>Tile ${esc(t.tile_id)}</h2>
        <p>RA ${t.ra}°, Dec ${t.dec}°, ${esc(t.date || "no date")}, QC ${t.qc_pass === null ? "not set" : t.qc_pass ? "pass" : "fail"}, version ${t.version}</p>
        <h3>Bundles</h3><table class="hnb-grid" data-testid="bundles"><thead><tr><th>bundle</th><th>kind</th><th>id</th><th>RA</th><th>Dec</th><th>details</th></tr></thead><tbody>
        ${r.bundles.map((b) => `<tr data-bundle="${esc(b.bundle)}"><td>${esc(b.bundle)}</td><td>${esc(b.kind)}</td><td>${link(b.kind === "target" ? "targets" : "stars", b.id)}</td><td>${b.record ? b.record.ra : ""}</td><td>${b.record ? b.record.dec : ""}</td><td>${b.record ? esc(b.kind === "target" ? `z ${b.record.z ?? "–"}` : b.record.kind) : "not in the log"}</td></tr>`).join("")}</tbody></table>
        <form class="hnb-assign" data-testid="assign">Assign bundle <select name="bundle">${"ABCDEFGHIJKLMNOPQRSTU".split("").map((l) => `<option>${l}</option>`).join("")}</select>
          to <select name="kind"><option>target</option><option>star</option></select> <input name="member" placeholder="galaxy_id or star_id"> <button>Save</button></form>
        <h3>Logs</h3>${logs(r.logs)}<h3>Runs</h3><p>${r.runs.map((x) => link("runs", x.run_id)).join(", ") || "none"}</p>`;
    } else if (v.collection === "runs") {
      page.innerHTML = `<h2>Run ${esc(r.run.run_id)}</h2><p>${esc(r.run.start_date)} to ${esc(r.run.end_date)}; observers ${esc(r.run.observers.join(", "))}</p>
        <h3>Nights</h3><ul>${r.nights.map((n) => `<li>${esc(n.night)}: ${n.logs} entries</li>`).join("")}</ul>
        <h3>Tiles</h3><p>${r.tiles.map((x) => link("tiles", x.tile_id)).join(", ") || "none"}</p>
        <h3>Targets</h3><p>${r.targets.map((x) => link("targets", x.galaxy_id)).join(", ") || "none"}</p>`;
    } else {
      const rec = r.target || r.star;
      const key = r.target ? rec.galaxy_id : rec.star_id;
      page.innerHTML = `<h2>${r.target ? "Target" : "Star"} ${esc(key)}</h2><p>RA ${rec.ra}°, Dec ${rec.dec}°</p>
        <h3>Tiles</h3><p>${r.tiles.map((x) => link("tiles", x.tile_id)).join(", ") || "none"}</p><h3>Logs</h3>${logs(r.logs)}`;
    }
  }

  function drawApi() {
    page.innerHTML = `<h2>API</h2><form class="hnb-api" data-testid="api">
      <select name="method"><option>GET</option></select>
      <input name="endpoint" size="40" value="/api/target">
      <button>Send Request</button></form>
      <p>Query: <code data-testid="query"></code></p><pre data-testid="json"></pre>`;
  }

  function draw() {
    const v = model.get("view");
    page.dataset.view = v.page;
    if (v.page === "home") drawHome();
    else if (v.page === "table") drawTable();
    else if (v.page === "related") drawRelated();
    else if (v.page === "api") drawApi();
    say();
  }
  model.on("change:view", draw);
  model.on("change:rows", () => {
    // a saved new row comes back as a row of the grid: the form empties
    if ((model.get("message") || {}).kind === "ok") fresh = null;
    if (model.get("view").page === "table") draw();
  });
  model.on("change:related", () => {
    const v = model.get("view"), r = model.get("related");
    if (v.page === "related") draw();
    else if (v.page === "table" && r.history) {
      // a record's versions under the grid: who, when, and each change from -> to
      page.querySelector('[data-testid="history"]').innerHTML = `<h3>History of ${esc(r.id)}</h3><ol>${r.history.map((h) =>
        `<li>version ${h.version}, ${esc(h.author)}, ${esc(h.created)}: ${Object.entries(h.changed).map(([k, c]) =>
          `<b>${esc(k)}</b> ${esc(JSON.stringify(c.from))} → ${esc(JSON.stringify(c.to))}`).join("; ")}</li>`).join("")}</ol>`;
    }
  });
  model.on("change:counts", () => { if (model.get("view").page === "home") draw(); });

  root.addEventListener("click", async (ev) => {
    const t = ev.target;
    const go = t.closest("[data-go]");
    if (go) {
      if (go.dataset.go === "home") send({ type: "home" });
      else { model.set("view", { page: "api" }); saveSafely(model); }
      return;
    }
    if (t.dataset.detail) { fresh = null; send({ type: "table", collection: t.dataset.detail }); return; }
    if (t.classList.contains("hnb-go")) {
      ev.preventDefault();
      send({ type: "related", collection: t.dataset.collection, id: t.dataset.id });
      return;
    }
    if (t.classList.contains("hnb-link")) {
      send({ type: "related", collection: model.get("view").collection, id: t.closest("tr").dataset.id });
      return;
    }
    const v = model.get("view");
    if (t.dataset.act === "add" || t.dataset.act === "date") {
      fresh = t.dataset.act === "date" ? { night: new Date().toISOString().slice(0, 10) } : {};
      draw();
    } else if (t.dataset.act === "save" && fresh) {
      const coll = schema()[v.collection], record = {};
      for (const input of page.querySelectorAll(".hnb-new [data-field]")) {
        const f = coll.fields.find((x) => x.name === input.dataset.field);
        const value = parsed(f, input.value.trim());
        if (value !== null) record[f.name] = value;
      }
      fresh = Object.fromEntries([...page.querySelectorAll(".hnb-new [data-field]")].map((i) => [i.dataset.field, i.value]));
      send({ type: "save", collection: v.collection, record, row: "new" });
    } else if (t.dataset.act === "prev" || t.dataset.act === "next") {
      const step = (t.dataset.act === "next" ? 1 : -1) * v.page_size;
      send({ type: "table", collection: v.collection, q: v.q, deleted: v.deleted, offset: Math.max(0, v.offset + step) });
    } else if (t.dataset.row) {
      const id = t.closest("tr").dataset.id;
      if (t.dataset.row === "history") send({ type: "history", collection: v.collection, id });
      else send({ type: t.dataset.row, collection: v.collection, id });
    } else if (t.dataset.act === "selected") {
      const coll = schema()[v.collection];
      const ids = [...page.querySelectorAll(".hnb-pick:checked")].map((c) => c.closest("tr").dataset.id);
      const rows = model.get("rows").filter((r) => ids.includes(String(r[coll.key])));
      const box = page.querySelector(".hnb-selected");
      box.hidden = false;
      box.textContent = JSON.stringify(rows, null, 1);
    }
  });
  // the night report of the chosen night (the REST API draws it)
  root.addEventListener("click", (ev) => {
    const a = ev.target.closest('[data-testid="report"]');
    if (!a) return;
    const night = page.querySelector('[data-testid="report-night"]').value;
    if (!night) { ev.preventDefault(); return; }
    a.href = `${apiBase(model)}obslog/reports/${night}.pdf`;
  }, true);
  window.addEventListener("resize", () => padScroll());
  root.addEventListener("change", (ev) => {
    if (ev.target.dataset.testid === "show-deleted") {
      const v = model.get("view");
      send({ type: "table", collection: v.collection, q: v.q, deleted: ev.target.checked });
    }
  });
  root.addEventListener("input", (ev) => {
    if (ev.target.closest(".hnb-new")) fresh[ev.target.dataset.field] = ev.target.value;
  });
  root.addEventListener("change", (ev) => {
    if (ev.target.tagName === "SELECT" && ev.target.closest(".hnb-new")) fresh[ev.target.dataset.field] = ev.target.value;
  });
  root.addEventListener("keydown", (ev) => {
    if (ev.target.dataset.testid === "search" && ev.key === "Enter") {
      send({ type: "table", collection: model.get("view").collection, q: ev.target.value });
    }
  });
  // a double-clicked cell becomes an input; Enter saves it as a new version
  root.addEventListener("dblclick", (ev) => {
    const cell = ev.target.closest("td[data-field]");
    if (!cell || cell.closest(".hnb-new")) return;
    const tr = cell.closest("tr"), v = model.get("view");
    const f = schema()[v.collection].fields.find((x) => x.name === cell.dataset.field);
    if (cell.querySelector("input, select")) return;
    const row = model.get("rows").find((r) => String(r[schema()[v.collection].key]) === tr.dataset.id) || {};
    cell.innerHTML = editor(f, f.kind === "json" || f.kind === "texts" || f.kind === "time" ? cell.textContent : row[f.name]);
    const input = cell.querySelector("input, select");
    input.focus();
    const save = () => send({ type: "save", collection: v.collection, id: tr.dataset.id, version: Number(tr.dataset.version), record: { [f.name]: parsed(f, input.value.trim()) } });
    if (input.tagName === "SELECT") input.addEventListener("change", save);
    input.addEventListener("keydown", (e) => {
      if (e.key === "Enter") save();
      else if (e.key === "Escape") draw();
    });
  });
  root.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const form = ev.target;
    if (form.classList.contains("hnb-assign")) {
      const d = new FormData(form);
      send({ type: "assign", tile: model.get("view").id, bundle: d.get("bundle"), kind: d.get("kind"), member: d.get("member") });
    } else if (form.classList.contains("hnb-api")) {
      const endpoint = new FormData(form).get("endpoint");
      // the short form Data Central's obslog API uses: /api/target -> the collection "targets"
      const m = /^\/?api\/([a-z]+?)s?(\/.*)?(\?.*)?$/.exec(endpoint.split("?")[0]);
      const name = m ? `${m[1]}s` : "";
      const query = endpoint.includes("?") ? endpoint.slice(endpoint.indexOf("?")) : "";
      const url = `${apiBase(model)}obslog/${name}${m && m[2] ? m[2] : ""}${query}`;
      page.querySelector('[data-testid="query"]').textContent = url;
      const r = await fetch(url, { credentials: "same-origin" });
      page.querySelector('[data-testid="json"]').textContent = JSON.stringify(await r.json(), null, 1);
    }
  });

  user();
  draw();
  send({ type: "home" });
}

export default { render };
