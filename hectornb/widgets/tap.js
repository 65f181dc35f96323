// The TAP app's front end: service selector, metadata browser, ADQL editor, jobs, results.
// Python holds the truth (the service and its answers); the page sends actions, draws state.

function render({ model, el: root }) {
  root.classList.add("hnb-tap");
  root.dataset.testid = "tap";
  root.innerHTML = `
    <div class="hnb-tap-service">
      <label><input type="radio" name="svc" value="local" checked> this platform</label>
      <label><input type="radio" name="svc" value="url"> TAP URL
        <input data-testid="url" size="48" placeholder="https://…/tap"></label>
      <button data-testid="connect">Connect</button>
      <span class="hnb-user"></span>
    </div>
    <div class="hnb-caps" data-testid="capabilities"></div>
    <div class="hnb-message" data-testid="message" role="status"></div>
    <div class="hnb-tap-main">
      <aside class="hnb-meta">
        <input data-testid="find" type="search" placeholder="Find a table (name or description)">
        <div class="hnb-tree" data-testid="tree"></div>
      </aside>
      <section class="hnb-work">
        <div class="hnb-toolbar">
          <select data-testid="examples"><option value="">Examples…</option></select>
          <label>mode <select data-testid="mode"><option value="sync">synchronous</option>
            <option value="async">asynchronous (a job)</option></select></label>
          <label>MAXREC <input data-testid="maxrec" size="8" inputmode="numeric"></label>
          <button data-testid="run" class="hnb-primary">Run</button>
        </div>
        <textarea data-testid="adql" rows="7" spellcheck="false"
          placeholder="SELECT TOP 10 * FROM TAP_SCHEMA.tables"></textarea>
        <div class="hnb-toolbar">
          <span>Upload a table (VOTable, CSV, FITS) as TAP_UPLOAD.</span>
          <input data-testid="upload-name" size="10" value="mine">
          <input type="file" data-testid="upload-file">
          <span data-testid="uploads"></span>
        </div>
        <details class="hnb-jobs" data-testid="jobs" open><summary>Jobs</summary>
          <div></div>
          <span class="hnb-resume">Resume a job (ID or URL) <input data-testid="resume" size="40">
          <button class="hnb-small" data-testid="resume-button">Resume</button></span></details>
        <div class="hnb-result" data-testid="result"></div>
      </section>
    </div>`;
  const $ = (id) => root.querySelector(`[data-testid="${id}"]`);
  const send = (msg, buffers) => sendSafely(model, msg, buffers);

  // ---- service and capabilities ------------------------------------------------------------
  $("connect").addEventListener("click", () => {
    const remote = root.querySelector('input[name="svc"]:checked').value === "url";
    send({ type: "connect", url: remote ? $("url").value.trim() : "" });
  });
  $("url").addEventListener("focus", () => (root.querySelector('input[value="url"]').checked = true));
  const caps = () => {
    const c = model.get("capabilities") || {};
    const mb = (b) => (b ? `${(b / 1048576).toFixed(0)} MB` : "?");
    $("capabilities").innerHTML = `<b>${esc(model.get("service"))}</b> · ADQL ${esc((c.adql || []).join(", ") || "?")}` +
      ` · MAXREC ${esc(c.maxrec ?? "?")} (at most ${esc(c.hard_maxrec ?? "?")})` +
      ` · uploads up to ${mb(c.upload_limit)}` +
      (c.execution_duration ? ` · jobs run up to ${esc(c.execution_duration)} s` : "") +
      (c.ssa ? ` · reduced spectra: <code>ivoa.obscore</code>, <a data-testid="ssa-url" target="_blank" href="${esc(c.ssa)}?REQUEST=queryData&amp;FORMAT=METADATA">SSA</a> (${esc(new URL(c.ssa, window.location.href).href)}), DataLink` : "");
    $("maxrec").placeholder = String(c.maxrec ?? "");
    root.querySelector(".hnb-user").innerHTML = `signed in as <b>${esc(model.get("user"))}</b>`;
  };
  model.on("change:capabilities", caps);
  model.on("change:service", caps);

  // ---- metadata browser --------------------------------------------------------------------
  const tree = () => {
    const schemas = model.get("schemas") || [];
    $("tree").innerHTML = schemas.map((s) => `
      <details class="hnb-schema" data-schema="${esc(s.name)}"><summary title="${esc(s.description || "")}">${esc(s.name)}
        <small>${s.tables.length}</small></summary>
        ${s.tables.map((t) => `
          <details class="hnb-table" data-table="${esc(t.name)}"><summary title="${esc(t.description || "")}">${esc(t.name.split(".").slice(-1)[0])}</summary>
            <p class="hnb-desc">${esc(t.description || "")}</p>
            <button class="hnb-small" data-query="${esc(t.name)}">SELECT TOP 100 *</button>
            ${t.cone ? `<button class="hnb-small" data-cone="${esc(t.name)}" data-where="${esc(t.cone)}">cone</button>` : ""}
            ${t.hint ? `<p class="hnb-hint" data-testid="hint">${esc(t.hint)}</p>` : ""}
            ${(t.keys || []).map((k) => `<p class="hnb-hint">key → ${esc(k.target)} (${k.columns.map((c) => esc(c.join(" = "))).join(", ")})</p>`).join("")}
            <table class="hnb-columns"><tr><th>column</th><th>type</th><th>unit</th><th>idx</th></tr>
            ${t.columns.map((c) => `<tr data-column="${esc(c.name)}" title="${esc([c.ucd, c.description].filter(Boolean).join(" — "))}">
              <td>${esc(c.name)}</td><td>${esc(c.datatype || "")}${c.arraysize ? `[${esc(c.arraysize)}]` : ""}</td>
              <td>${esc(c.unit || "")}</td><td>${c.indexed ? "✓" : ""}</td></tr>`).join("")}</table>
          </details>`).join("")}
      </details>`).join("") || "<p>No tables.</p>";
  };
  model.on("change:schemas", () => { tree(); find(); });
  // Find: only the tables whose name or description holds the text (their schemas opened)
  const find = () => {
    const q = $("find").value.trim().toLowerCase();
    for (const s of $("tree").querySelectorAll(".hnb-schema")) {
      let any = false;
      for (const t of s.querySelectorAll(".hnb-table")) {
        const text = (t.dataset.table + " " + (t.querySelector(".hnb-desc")?.textContent || "")).toLowerCase();
        const hit = !q || text.includes(q);
        t.hidden = !hit;
        any = any || hit;
      }
      s.hidden = !any;
      if (q) s.open = any;
    }
  };
  $("find").addEventListener("input", find);
  $("tree").addEventListener("click", (ev) => {
    const b = ev.target.closest("[data-query]");
    if (b) $("adql").value = `SELECT TOP 100 * FROM ${b.dataset.query}`;
    const c = ev.target.closest("[data-cone]");
    if (c) $("adql").value = `SELECT * FROM ${c.dataset.cone}\nWHERE ${c.dataset.where}`;
  });

  // ---- editor, examples, run ---------------------------------------------------------------
  const examples = () => {
    $("examples").innerHTML = `<option value="">Examples…</option>` + (model.get("examples") || [])
      .map((e, k) => `<option value="${k}">${esc(e.name)}</option>`).join("");
  };
  model.on("change:examples", examples);
  $("examples").addEventListener("change", () => {
    const e = (model.get("examples") || [])[Number($("examples").value)];
    if (e) $("adql").value = e.query;
  });
  const run = () => send({ type: "run", adql: $("adql").value, mode: $("mode").value, maxrec: $("maxrec").value.trim() });
  $("run").addEventListener("click", run);
  $("adql").addEventListener("keydown", (ev) => {
    if (ev.key === "Enter" && (ev.ctrlKey || ev.metaKey)) { ev.preventDefault(); run(); }
  });
  model.on("change:busy", () => {
    root.classList.toggle("hnb-busy", model.get("busy"));
    $("run").disabled = model.get("busy");
  });

  // ---- uploads -----------------------------------------------------------------------------
  $("upload-file").addEventListener("change", async () => {
    const file = $("upload-file").files[0];
    if (!file) return;
    send({ type: "upload", name: $("upload-name").value.trim(), filename: file.name }, [await file.arrayBuffer()]);
    $("upload-file").value = "";
  });
  const uploads = () => {
    $("uploads").innerHTML = (model.get("uploads") || []).map((n) =>
      `<span class="hnb-chip">TAP_UPLOAD.${esc(n)} <button class="hnb-small" data-forget="${esc(n)}" title="forget">×</button></span>`).join(" ");
  };
  model.on("change:uploads", uploads);
  $("uploads").addEventListener("click", (ev) => {
    const b = ev.target.closest("[data-forget]");
    if (b) send({ type: "forget_upload", name: b.dataset.forget });
  });

  // ---- jobs --------------------------------------------------------------------------------
  const jobs = () => {
    const list = model.get("jobs") || [];
    $("jobs").querySelector(":scope > div").innerHTML = list.length ? `<table class="hnb-grid">
      <tr><th>job</th><th>phase</th><th>created</th><th>query</th><th></th></tr>
      ${list.map((j) => `<tr data-job="${esc(j.id)}" data-phase="${esc(j.phase)}"><td>${esc(j.id)}</td>
        <td class="hnb-phase-${esc(j.phase)}" title="${esc(j.error || "")}">${esc(j.phase)}</td><td>${esc(j.created.slice(0, 19).replace("T", " "))}</td>
        <td class="hnb-q" title="${esc(j.query)}">${esc(j.query)}</td><td>
        ${j.phase === "COMPLETED" ? `<button class="hnb-small" data-act="open_job">Open</button>` : ""}
        ${["QUEUED", "EXECUTING", "PENDING"].includes(j.phase) ? `<button class="hnb-small" data-act="abort">Abort</button>` : ""}
        <button class="hnb-small" data-act="delete">Delete</button></td></tr>`).join("")}</table>
      <button class="hnb-small" data-act="jobs">Refresh</button>` : "<p>No jobs yet: choose the asynchronous mode to run a query as a job.</p>";
    $("jobs").dataset.count = String(list.length);
  };
  model.on("change:jobs", jobs);
  $("resume-button").addEventListener("click", () => send({ type: "resume", ref: $("resume").value }));
  $("jobs").addEventListener("click", (ev) => {
    const b = ev.target.closest("[data-act]");
    if (!b) return;
    const row = b.closest("[data-job]");
    send({ type: b.dataset.act, id: row ? row.dataset.job : undefined });
  });
  // a running job is looked at again every 2 s, until none is left running
  setInterval(() => {
    if ((model.get("jobs") || []).some((j) => ["QUEUED", "EXECUTING"].includes(j.phase)) && !model.get("busy")) {
      send({ type: "jobs" });
    }
  }, 2000);

  // ---- result ------------------------------------------------------------------------------
  const result = () => {
    const r = model.get("result") || {};
    const box = $("result");
    if (r.error) {  // a query that failed: its error where its result would be, no older rows
      box.innerHTML = `<div class="hnb-message hnb-error" data-testid="result-error">${esc(r.error)}</div>`;
      box.dataset.rows = "0";
      return;
    }
    if (!r.columns) { box.innerHTML = ""; box.dataset.rows = "0"; return; }
    const shown = r.rows.length;
    // ObsCore rows: each spectrum opens in the Explore app by its publisher DID
    // (or by its DataLink URL, ObsCore's access_url, when the DID is not selected)
    let didAt = r.columns.findIndex((c) => c.name.toLowerCase() === "obs_publisher_did");
    if (didAt < 0) {
      const at = r.columns.findIndex((c) => c.name.toLowerCase() === "access_url");
      if (at >= 0 && r.rows.some((row) => String(row[at] || "").includes("datalink/links?ID="))) didAt = at;
    }
    const explore = (row) => didAt < 0 || row[didAt] === null ? "" :
      `<td><a data-testid="open-in-explore" target="_blank" href="${appUrl("explore.ipynb")}?spectrum=${encodeURIComponent(row[didAt])}">open in Explore</a></td>`;
    box.innerHTML = `<div class="hnb-toolbar">
        <b data-testid="count">${r.total} rows</b>${r.overflow ? ' <span class="hnb-overflow">(MAXREC reached: there are more)</span>' : ""}
        ${shown < r.total ? `<span>(the first ${shown} shown; downloads hold all)</span>` : ""}
        <span>Download</span><button data-download="votable">VOTable</button><button data-download="csv">CSV</button><button data-download="fits">FITS</button>
        <span class="hnb-classify">positions to Classify as list <input data-testid="list-name" size="14" placeholder="list name">
        <button data-testid="classify">Send</button></span>
      </div>
      <div class="hnb-scroll"><table class="hnb-grid" data-testid="grid"><thead><tr>${didAt < 0 ? "" : "<th>spectrum</th>"}${r.columns.map((c) =>
        `<th title="${esc([c.ucd, c.datatype].filter(Boolean).join(" · "))}">${esc(c.name)}${c.unit ? `<br><small>${esc(c.unit)}</small>` : ""}</th>`).join("")}</tr></thead>
      <tbody>${r.rows.map((row) => `<tr>${explore(row)}${row.map((v) => `<td>${v === null ? '<span class="hnb-null">—</span>' : esc(Array.isArray(v) ? v.join(" ") : v)}</td>`).join("")}</tr>`).join("")}</tbody></table></div>`;
    box.dataset.rows = String(r.total);
    box.dataset.source = r.source || "";
  };
  model.on("change:result", result);
  $("result").addEventListener("click", (ev) => {
    const d = ev.target.closest("[data-download]");
    if (d) send({ type: "download", format: d.dataset.download });
    if (ev.target.closest('[data-testid="classify"]')) send({ type: "classify", name: $("list-name").value });
  });

  const say = () => {
    const m = model.get("message") || {};
    const box = $("message");
    box.className = `hnb-message hnb-${m.kind || "info"}`;
    box.textContent = m.text || "";
    if (m.list) {
      box.innerHTML += ` <a data-testid="classify-link" target="_blank" href="${appUrl("classify.ipynb")}?list=${encodeURIComponent(m.list)}">open in Classify</a>`;
    }
    box.dataset.at = m.at || "";
  };
  model.on("change:message", say);
  model.on("msg:custom", (msg, buffers) => {
    if (msg.type === "download") saveBytes(buffers[0], msg.filename, msg.mime, "download-link");
  });

  const markReady = () => (root.dataset.ready = String(Boolean(model.get("ready"))));
  model.on("change:ready", markReady);
  caps(); tree(); examples(); uploads(); jobs(); result(); say(); markReady();
  send({ type: "connect", url: "" });
}

export default { render };
