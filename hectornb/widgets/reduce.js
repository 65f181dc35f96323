// The Reduce app's front end: archive grid, options form, requests, status page.
// Python holds the truth (the Reduce service); the page sends actions and draws state.

function el(tag, attrs = {}, html = "") {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  node.innerHTML = html;
  return node;
}

const FINAL = ["done", "partial", "failed", "cancelled"];
const PRODUCT_TASKS = ["reduce_object", "combine_image", "splice"]; // what Explore opens
const STATUS_LABEL = { queued: "Queued", running: "Running", done: "Finished", partial: "Finished with failures", failed: "Failed", cancelling: "Cancelling", cancelled: "Cancelled" };

function render({ model, el: root }) {
  root.classList.add("hnb-reduce");
  root.dataset.testid = "reduce";
  const markReady = () => (root.dataset.ready = String(Boolean(model.get("ready"))));
  model.on("change:ready", markReady);
  root.innerHTML = `
    <nav class="hnb-tabs">
      <button data-tab="find" class="active">Find data</button>
      <button data-tab="requests">Your requests</button>
      <button data-tab="status">Request status</button>
      <span class="hnb-user">signed in as <b>${esc(model.get("user"))}</b></span>
    </nav>
    <div class="hnb-message" role="status"></div>
    <section data-panel="find">
      <form class="hnb-filters">
        <label>Night from <input name="night_from" placeholder="yymmdd" size="7"></label>
        <label>to <input name="night_to" placeholder="yymmdd" size="7"></label>
        <label>Class <select name="ndfclass"><option value="">any</option>
          <option>MFOBJECT</option><option>MFARC</option><option>MFFFF</option><option>MFSKY</option>
          <option>BIAS</option><option>DARK</option></select></label>
        <label>Object <input name="object" size="12"></label>
        <label>Grating <input name="grating" size="6"></label>
        <label>Arm <select name="arm"><option value="">both</option><option>blue</option><option>red</option></select></label>
        <label>Programme <input name="programme" size="11"></label>
        <button type="submit" class="primary">Search</button>
      </form>
      <div class="hnb-gridbar">
        <span class="hnb-selected">0/0 selected</span>
        <details class="hnb-columns"><summary>Columns</summary><div></div></details>
        <label>Density <select class="hnb-density"><option value="comfortable">comfortable</option><option value="compact">compact</option></select></label>
        <button class="hnb-export">Export CSV</button>
        <a class="hnb-download-raw button" href="#" download>Download Files</a>
        <button class="hnb-open-options primary">Reduce With PAWS</button>
      </div>
      <div class="hnb-options" hidden>
        <h3>Reduction options</h3>
        <p class="hnb-note">The defaults suit most data. Options other than the defaults take longer.</p>
        <div class="hnb-option-fields"></div>
        <label title="builtin: hectornb&#39;s own reduction; 2dfdr: 2dFdr installed on the server; 2dfdr-docker@TAG: 2dFdr in the container image of that tag">Engine <select name="engine" class="hnb-engine"></select></label>
        <label>E-mail for notifications <input type="email" name="email" size="28" placeholder="you@example.org"></label>
        <div class="hnb-option-buttons"><button class="hnb-make-it-so primary">Make it so!</button>
          <button class="hnb-close-options">Close</button></div>
      </div>
      <div class="hnb-grid-wrap"><table class="hnb-grid"><thead></thead><tbody></tbody></table></div>
      <dialog class="hnb-view"><h3></h3><div class="hnb-view-body"></div><button class="hnb-view-close">Close</button></dialog>
    </section>
    <section data-panel="requests" hidden>
      <h3>Your requests in the last 7 days</h3>
      <table class="hnb-jobs"><thead><tr><th>ID</th><th>Status</th><th>Files</th><th>Requested (Sydney)</th></tr></thead><tbody></tbody></table>
    </section>
    <section data-panel="status" hidden><div class="hnb-status"><p>No request open: submit one, or pick one under “Your requests”.</p></div></section>`;

  const $ = (sel) => root.querySelector(sel);
  const $$ = (sel) => Array.from(root.querySelectorAll(sel));
  const selected = new Set();
  let sortKey = null, sortUp = true;
  let lastQuery = {};

  // ---- tabs ------------------------------------------------------------------------------
  function showTab(name) {
    $$(".hnb-tabs button").forEach((b) => b.classList.toggle("active", b.dataset.tab === name));
    $$("section[data-panel]").forEach((s) => (s.hidden = s.dataset.panel !== name));
    if (name === "requests") sendSafely(model, { type: "jobs" });
  }
  $$(".hnb-tabs button").forEach((b) => b.addEventListener("click", () => showTab(b.dataset.tab)));

  // ---- messages --------------------------------------------------------------------------
  function drawMessage() {
    const m = model.get("message") || {};
    const box = $(".hnb-message");
    box.textContent = m.text || "";
    box.className = `hnb-message ${m.kind || ""}`;
  }

  // ---- archive grid ----------------------------------------------------------------------
  function shownColumns() { return model.get("columns").filter((c) => c.shown); }

  function drawColumnChooser() {
    const box = $(".hnb-columns div");
    box.innerHTML = model.get("columns").map((c, i) =>
      `<label><input type="checkbox" data-i="${i}" ${c.shown ? "checked" : ""}> ${esc(c.label)}</label>`).join("");
    box.querySelectorAll("input").forEach((input) => input.addEventListener("change", () => {
      const cols = model.get("columns").map((c) => ({ ...c }));
      cols[+input.dataset.i].shown = input.checked;
      model.set("columns", cols);
      saveSafely(model);
    }));
  }

  function rows() {
    const frames = model.get("frames").slice();
    if (sortKey) {
      frames.sort((a, b) => {
        const x = a[sortKey], y = b[sortKey];
        const c = x === y ? 0 : (x ?? "") > (y ?? "") ? 1 : -1;
        return sortUp ? c : -c;
      });
    }
    return frames;
  }

  function drawGrid() {
    const cols = shownColumns();
    const frames = rows();
    for (const p of Array.from(selected)) if (!frames.some((f) => f.path === p)) selected.delete(p);
    $(".hnb-grid thead").innerHTML = `<tr><th><input type="checkbox" class="hnb-all" aria-label="select all"></th>` +
      cols.map((c) => `<th data-key="${c.key}" class="sortable">${esc(c.label)}${sortKey === c.key ? (sortUp ? " ▲" : " ▼") : ""}</th>`).join("") +
      `<th>VIEW</th></tr>`;
    $(".hnb-grid tbody").innerHTML = frames.map((f) =>
      `<tr data-path="${esc(f.path)}" class="${selected.has(f.path) ? "selected" : ""}">` +
      `<td><input type="checkbox" class="hnb-pick" ${selected.has(f.path) ? "checked" : ""} aria-label="select ${esc(f.file)}"></td>` +
      cols.map((c) => `<td>${esc(typeof f[c.key] === "number" && !Number.isInteger(f[c.key]) ? f[c.key].toFixed(3) : f[c.key])}</td>`).join("") +
      `<td>${f.ndfclass.startsWith("MF") ? `<button class="hnb-fibres small">fibres</button>` : ""}${f.ndfclass === "MFOBJECT" ? ` <button class="hnb-targets small">targets</button>` : ""}</td></tr>`).join("");
    $(".hnb-all").checked = frames.length > 0 && frames.every((f) => selected.has(f.path));
    $(".hnb-all").addEventListener("change", (e) => {
      frames.forEach((f) => (e.target.checked ? selected.add(f.path) : selected.delete(f.path)));
      drawGrid();
    });
    $$(".hnb-grid th.sortable").forEach((th) => th.addEventListener("click", () => {
      sortUp = sortKey === th.dataset.key ? !sortUp : true;
      sortKey = th.dataset.key;
      drawGrid();
    }));
    $$(".hnb-grid tbody tr").forEach((tr) => {
      tr.querySelector(".hnb-pick").addEventListener("change", (e) => {
        e.target.checked ? selected.add(tr.dataset.path) : selected.delete(tr.dataset.path);
        tr.classList.toggle("selected", e.target.checked);
        drawSelection();
      });
      const fib = tr.querySelector(".hnb-fibres");
      if (fib) fib.addEventListener("click", () => sendSafely(model, { type: "fibres", path: tr.dataset.path }));
      const t = tr.querySelector(".hnb-targets");
      if (t) t.addEventListener("click", () => sendSafely(model, { type: "targets", path: tr.dataset.path }));
    });
    drawSelection();
  }

  function drawSelection() {
    $(".hnb-selected").textContent = `${selected.size}/${model.get("frames").length} selected`;
    const q = new URLSearchParams();
    selected.forEach((p) => q.append("path", p));
    $(".hnb-download-raw").href = selected.size ? `${apiBase(model)}reduce/frames/download?${q}` : "#";
    $(".hnb-download-raw").classList.toggle("disabled", !selected.size);
  }

  $(".hnb-filters").addEventListener("submit", (e) => {
    e.preventDefault();
    lastQuery = Object.fromEntries(new FormData(e.target).entries());
    sendSafely(model, { type: "query", filters: lastQuery });
  });
  $(".hnb-density").addEventListener("change", (e) => root.classList.toggle("compact", e.target.value === "compact"));
  $(".hnb-export").addEventListener("click", () => {
    const cols = shownColumns();
    const quote = (v) => { const s = String(v ?? ""); return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s; };
    const text = [cols.map((c) => c.key).join(","), ...rows().map((f) => cols.map((c) => quote(f[c.key])).join(","))].join("\n") + "\n";
    const a = el("a", { href: URL.createObjectURL(new Blob([text], { type: "text/csv" })), download: "frames.csv" });
    document.body.appendChild(a); a.click(); a.remove();
  });

  // ---- VIEW dialogs ----------------------------------------------------------------------
  model.on("msg:custom", (msg) => {
    if (msg.type !== "fibres") return;
    const dlg = $(".hnb-view");
    const name = msg.path.split("/").pop();
    dlg.querySelector("h3").textContent = `${msg.kind === "targets" ? "Targets" : "Fibre table"} of ${name} (${msg.rows.length})`;
    dlg.querySelector(".hnb-view-body").innerHTML = `<table class="hnb-fibre-table"><thead><tr><th>Fibre</th><th>Name</th><th>Type</th><th>RA (deg)</th><th>Dec (deg)</th><th>Mag</th><th>Pivot</th><th>Comment</th></tr></thead><tbody>` +
      msg.rows.map((r) => `<tr><td>${r.fibre}</td><td>${esc(r.name)}</td><td>${esc(r.type)}</td><td>${r.ra}</td><td>${r.dec}</td><td>${r.magnitude}</td><td>${r.pivot}</td><td>${esc(r.comment)}</td></tr>`).join("") + `</tbody></table>`;
    dlg.showModal ? dlg.showModal() : dlg.setAttribute("open", "");
  });
  $(".hnb-view-close").addEventListener("click", () => $(".hnb-view").close());

  // ---- options form ----------------------------------------------------------------------
  function drawOptions() {
    $(".hnb-option-fields").innerHTML = model.get("option_specs").map((o) => {
      const id = `hnb-opt-${o.form}`;
      if (o.choices.length === 2 && o.choices.includes("0") && o.choices.includes("1")) {
        return `<label title="${esc(o.help)}"><input type="checkbox" id="${id}" data-form="${o.form}" data-default="${o.default}" ${o.default === "1" ? "checked" : ""}> ${o.form}</label>`;
      }
      return `<label title="${esc(o.help)}">${o.form} <select id="${id}" data-form="${o.form}" data-default="${o.default}">` +
        o.choices.map((c) => `<option ${c === o.default ? "selected" : ""}>${c}</option>`).join("") + `</select></label>`;
    }).join("");
  }
  function drawEngines() {
    const select = $(".hnb-engine"), was = select.value;
    // engines with no version here are listed greyed out, the reason on hover
    const missing = Object.entries(model.get("engines_unavailable") || {});
    select.innerHTML = model.get("engines").map((e) => `<option>${esc(e)}</option>`).join("") +
      missing.map(([name, why]) => `<option disabled value="" title="${esc(why)}">${esc(name)} (not here)</option>`).join("");
    if (model.get("engines").includes(was)) select.value = was;
  }
  function chosenOptions() {
    const out = {};
    $$(".hnb-option-fields [data-form]").forEach((input) => {
      const value = input.type === "checkbox" ? (input.checked ? "1" : "0") : input.value;
      if (value !== input.dataset.default) out[input.dataset.form] = value;
    });
    return out;
  }
  $(".hnb-open-options").addEventListener("click", () => {
    if (!selected.size) { model.set("message", { text: "Select the frames to reduce first.", kind: "error" }); drawMessage(); return; }
    $(".hnb-options").hidden = false;
    sendSafely(model, { type: "engines" }); // images come and go on the Docker engine
  });
  $(".hnb-close-options").addEventListener("click", () => ($(".hnb-options").hidden = true));
  $(".hnb-make-it-so").addEventListener("click", () => {
    sendSafely(model, { type: "submit", frames: Array.from(selected), options: chosenOptions(), email: $(".hnb-options input[name=email]").value.trim(), engine: $(".hnb-engine").value });
  });

  // ---- requests --------------------------------------------------------------------------
  function drawJobs() {
    $(".hnb-jobs tbody").innerHTML = model.get("jobs").map((j) =>
      `<tr data-id="${j.id}"><td><a href="#" class="hnb-job-link">${j.id}</a></td><td class="status-${j.status}">${STATUS_LABEL[j.status] || j.status}</td><td>${j.n_frames}</td><td>${esc(j.created)}</td></tr>`).join("") ||
      `<tr><td colspan="4">No requests in the last 7 days.</td></tr>`;
    $$(".hnb-job-link").forEach((a) => a.addEventListener("click", (e) => {
      e.preventDefault();
      sendSafely(model, { type: "open", id: a.closest("tr").dataset.id });
    }));
  }

  // ---- status page -----------------------------------------------------------------------
  function drawStatus() {
    const j = model.get("job") || {};
    if (!j.id) return;
    const api = `${apiBase(model)}reduce/jobs/${j.id}`;
    // steps_done counts every step that ended; the bar and the words tell done from not
    const by = { done: 0, failed: 0, skipped: 0 };
    (j.steps || []).forEach((s) => { if (s.status in by) by[s.status] += 1; });
    const share = (n) => (j.steps_total ? (100 * n) / j.steps_total : 0);
    const pct = Math.round(share(j.steps_done));
    const ended = j.steps_total && j.steps_done === j.steps_total;
    const tally = `${by.done} of ${j.steps_total} steps done` +
      (by.failed ? ` · ${by.failed} failed` : "") + (by.skipped ? ` · ${by.skipped} skipped` : "");
    // before the runner has planned it: what it is waiting for, not "0/0 steps"
    const planning = !j.final && !j.steps_total;
    const count = planning ? (j.status === "queued" ? "waiting for a free runner…"
      : `planning the reduction of ${j.n_frames} object frames and starting the cluster…`)
      : j.final ? (by.failed || by.skipped ? tally : "")
      : ended ? `${tally} · drawing the products' PDFs…`
      : `${tally}${j.current ? ` · last: ${esc(j.current)}` : ""}`;
    const bar = planning ? `<div style="width:100%"></div>`
      : `<div class="hnb-bar-done" style="width:${share(by.done)}%"></div>` +
        `<div class="hnb-bar-failed" style="width:${share(by.failed + by.skipped)}%"></div>`;
    const changed = Object.entries(j.options_changed || {}).map(([k, v]) => `${k}=${v}`).join(", ") || "defaults";
    const plan = (j.plan && j.plan.groups) || [];
    const dashboard = j.plan && j.plan.dashboard ? `<a href="${esc(j.plan.dashboard)}" target="_blank">Dask dashboard</a>` : "";
    const downloads = j.final ? Object.entries(model.get("downloads")).map(([what, label]) =>
      `<a class="button hnb-download${preparing[what] ? " hnb-preparing" : ""}" data-what="${what}" download href="${api}/download?what=${what}">${preparing[what] ? "Preparing the zip…" : esc(label)}</a>`).join(" ") : "";
    const products = (j.steps || []).some((s) => s.status === "done" && PRODUCT_TASKS.includes(s.task));
    const explore = j.final && products ? ` <a class="button hnb-explore" target="_blank" href="${appUrl("explore.ipynb")}?job=${encodeURIComponent(j.id)}">Explore the products</a>` : "";
    $(".hnb-status").innerHTML = `
      <h3>Request <code class="hnb-job-id">${j.id}</code></h3>
      <p><span class="hnb-badge status-${j.status}">${STATUS_LABEL[j.status] || j.status}</span>
        ${j.n_frames} object frames · engine ${esc(j.engine)} · options: ${esc(changed)} · requested ${esc(j.created)}
        ${j.finished ? ` · ended ${esc(j.finished)}` : ""} ${dashboard}</p>
      <div class="hnb-progress${planning ? " hnb-waiting" : ""}" role="progressbar" aria-valuenow="${pct}" aria-valuemin="0" aria-valuemax="100" aria-valuetext="${esc(planning ? count : tally)}">${bar}</div>
      <p class="hnb-steps-count" data-testid="steps-count">${count}</p>
      ${j.message ? `<p class="hnb-job-message">${esc(j.message)}</p>` : ""}
      <p>${j.final ? "" : `<button class="hnb-cancel">Cancel</button>`} ${downloads}${explore}</p>
      <details open><summary>Steps</summary><table class="hnb-steps"><thead><tr><th>#</th><th>Step</th><th>Frame</th><th>Arm</th><th>Status</th><th>s</th><th>Log</th></tr></thead><tbody>
        ${(j.steps || []).map((s) => `<tr class="step-${s.status}"><td>${s.seq + 1}</td><td>${esc(s.task)}</td><td>${esc(s.frame)}</td><td>${esc(s.arm)}</td><td class="hnb-step-status">${esc(s.status)}${s.reason ? `: ${esc(s.reason)}` : ""}</td><td>${s.seconds != null ? s.seconds.toFixed(1) : ""}</td><td>${s.log ? `<button class="hnb-log-toggle link" data-key="${esc(s.key)}" aria-expanded="${openLogs.has(s.key)}">log</button>` : ""}</td></tr>` +
          (s.log && openLogs.has(s.key) ? `<tr class="hnb-log-row"><td colspan="7"><pre>${esc(s.log)}</pre></td></tr>` : "")).join("")}
      </tbody></table></details>
      <details><summary>Plan: calibrations chosen</summary><table class="hnb-plan"><thead><tr><th>Arm</th><th>Field</th><th>Objects</th><th>Calibrations</th></tr></thead><tbody>
        ${plan.map((g) => `<tr><td>${esc(g.arm)}</td><td>${esc(g.field)}</td><td>${esc(g.objects.join(", "))}</td><td>${Object.entries(g.calibrations).map(([role, c]) => `<div><b>${esc(role)}</b>: ${esc(c.files.join(", "))} <i>(${esc(c.rule)})</i></div>`).join("")}</td></tr>`).join("")}
      </tbody></table></details>
      <details><summary>Events</summary><ol class="hnb-events">${(j.events || []).map((e) => `<li>${esc(e.at)} <b>${esc(e.kind)}</b> ${esc(e.message)}</li>`).join("")}</ol></details>`;
    const cancel = $(".hnb-cancel");
    if (cancel) cancel.addEventListener("click", () => sendSafely(model, { type: "cancel", id: j.id }));
    $$(".hnb-log-toggle").forEach((b) => b.addEventListener("click", () => {
      openLogs.has(b.dataset.key) ? openLogs.delete(b.dataset.key) : openLogs.add(b.dataset.key);
      drawStatus();
    }));
  }
  // the step logs a person opened stay open as the page follows the request
  const openLogs = new Set();

  // A download the server takes a while to prepare (a zip of many products) says so until
  // the file starts to arrive: the server then sets a cookie named after the click's ticket.
  const preparing = {};
  root.addEventListener("click", (ev) => {
    const a = ev.target.closest("a.hnb-download");
    if (!a || preparing[a.dataset.what]) return;
    const ticket = Math.random().toString(36).slice(2, 12);
    const url = new URL(a.href, window.location.href);
    url.searchParams.set("ticket", ticket);
    a.href = url.href; // before the browser follows it
    preparing[a.dataset.what] = ticket;
    a.classList.add("hnb-preparing");
    a.textContent = "Preparing the zip…";
    const started = Date.now(), cookie = `hnb_download_${ticket}`;
    const poll = setInterval(() => {
      if (!document.cookie.includes(`${cookie}=`) && Date.now() - started < 600_000) return;
      clearInterval(poll);
      document.cookie = `${cookie}=; Max-Age=0; Path=/`;
      delete preparing[a.dataset.what];
      drawStatus();
    }, 300);
  }, true);

  model.on("change:message", drawMessage);
  model.on("change:frames", drawGrid);
  model.on("change:columns", () => { drawColumnChooser(); drawGrid(); });
  model.on("change:jobs", drawJobs);
  model.on("change:engines", drawEngines);
  model.on("change:engines_unavailable", drawEngines);
  model.on("change:job", () => {
    const before = root.dataset.job;
    drawStatus();
    const id = (model.get("job") || {}).id;
    if (id && id !== before) { root.dataset.job = id; showTab("status"); }
  });
  drawColumnChooser(); drawOptions(); drawEngines(); drawGrid(); drawJobs(); drawMessage();
  if ((model.get("job") || {}).id) { drawStatus(); showTab("status"); root.dataset.job = model.get("job").id; }

  // the page's URL: ?job=<id> opens a request, ?night=yymmdd runs a query
  const params = Object.fromEntries(new URLSearchParams(window.location.search).entries());
  delete params.token;
  markReady();
  sendSafely(model, { type: "init", params });
}

export default { render };
