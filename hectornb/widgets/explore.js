// The Explore app's front end: product chooser, summary, field view, spectrum (plotly).
// Python holds the product; the page asks for one fibre at a time and draws it.

const SMOOTHING = [1, 3, 5, 9, 15, 25];
const FIELD_RADIUS = 60; // arcmin
const UPLOAD_PIECE = 4 * 1024 * 1024;

// plotly.js (its basic bundle) is served by the platform; loaded once per page. The Voilà
// page starts loading it with the page (the notebook's metadata names it), so it is ready
// when the widget is drawn; in JupyterLab the first draw loads it.
let plotlyLoading = null;
function injectPlotly(version) {
  return new Promise((resolve, reject) => {
    const script = document.createElement("script");
    script.src = `${baseUrl()}hectornb/static/plotly-basic.min.js?v=${encodeURIComponent(version)}`;
    // an AMD loader on the page (RequireJS) would take the module instead of window
    const define = window.define;
    window.define = undefined;
    script.onload = () => {
      window.define = define;
      if (window.Plotly) resolve(window.Plotly);
      else reject(new Error("plotly.js was loaded but did not start"));
    };
    script.onerror = () => { window.define = define; reject(new Error("plotly.js could not be loaded")); };
    document.head.appendChild(script);
  });
}
function loadPlotly(version) {
  if (window.Plotly) return Promise.resolve(window.Plotly);
  if (!plotlyLoading) {
    const early = document.querySelector("script[data-hectornb-early][src*='hectornb/static/plotly-basic.min.js']");
    const pending = early && !early.dataset.state
      ? new Promise((resolve) => {
        early.addEventListener("load", resolve);
        early.addEventListener("error", resolve);
      })
      : Promise.resolve();
    plotlyLoading = pending
      .then(() => window.Plotly || injectPlotly(version))
      .catch((e) => { plotlyLoading = null; throw e; });
  }
  return plotlyLoading;
}

function smooth(values, width) {
  // boxcar over finite pixels only, so a NaN gap does not spread
  if (width <= 1) return values;
  const n = values.length, half = Math.floor(width / 2);
  const sum = new Float64Array(n + 1), count = new Uint32Array(n + 1);
  for (let i = 0; i < n; i++) {
    const v = values[i], ok = Number.isFinite(v);
    sum[i + 1] = sum[i] + (ok ? v : 0);
    count[i + 1] = count[i] + (ok ? 1 : 0);
  }
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const lo = Math.max(0, i - half), hi = Math.min(n, i + half + 1);
    const c = count[hi] - count[lo];
    out[i] = c && Number.isFinite(values[i]) ? (sum[hi] - sum[lo]) / c : NaN;
  }
  return out;
}

// the ±1σ band as closed shapes, one per run of finite pixels: a spliced product's gap
// between the arms (NaN) stays empty instead of being bridged
function band(wave, flux, sigma) {
  const x = [], y = [];
  let start = -1;
  const close = (a, b) => {
    for (let k = a; k < b; k++) { x.push(wave[k]); y.push(flux[k] - sigma[k]); }
    for (let k = b - 1; k >= a; k--) { x.push(wave[k]); y.push(flux[k] + sigma[k]); }
    x.push(null); y.push(null);
  };
  for (let k = 0; k <= flux.length; k++) {
    const ok = k < flux.length && Number.isFinite(flux[k]) && Number.isFinite(sigma[k]);
    if (ok && start < 0) start = k;
    if (!ok && start >= 0) { close(start, k); start = -1; }
  }
  return { x, y };
}

// the y-range that shows the spectrum, not its worst pixel: the 0.5-99.5 percentiles of the
// finite values, with a margin (cosmic-ray residuals and the ends of the arms fall outside)
function robustRange(values) {
  const v = Array.from(values).filter(Number.isFinite).sort((a, b) => a - b);
  if (v.length < 10) return null;
  const at = (q) => v[Math.min(v.length - 1, Math.max(0, Math.round(q * (v.length - 1))))];
  const lo = at(0.005), hi = at(0.995), pad = 0.08 * (hi - lo || Math.abs(hi) || 1);
  return [lo - pad, hi + pad];
}

// line labels in up to three rows at the top; a label with no room in any row is left off
// (its line stays, and its name shows on hover)
function placeLabels(lines, lo, hi, widthPx) {
  const rows = [[], [], []], perPx = (hi - lo) / Math.max(widthPx, 100);
  return lines.map((line) => {
    const half = (6.5 * line.name.length + 8) / 2 * perPx;
    const row = rows.findIndex((r) => !r.length || r[r.length - 1] < line.at - half);
    if (row < 0) return { ...line, row: -1 };
    rows[row].push(line.at + half);
    return { ...line, row };
  });
}

function render({ model, el: root }) {
  root.classList.add("hnb-explore");
  root.dataset.testid = "explore";
  root.tabIndex = 0;
  const markReady = () => (root.dataset.ready = String(Boolean(model.get("ready"))));
  model.on("change:ready", markReady);
  root.innerHTML = `
    <div class="hnb-bar">
      <label>Product <select data-testid="product"></select></label>
      <label>Request <select data-testid="request"><option value="">your requests…</option></select></label>
      <label class="hnb-upload">Open a file <input type="file" accept=".fits,.fit,.fts" data-testid="upload"></label>
      <button data-testid="pdf" title="Every spectrum of this product, eight to a page">PDF</button>
      <span class="hnb-message" data-testid="message" role="status"></span>
    </div>
    <div class="hnb-summary" data-testid="summary"></div>
    <div class="hnb-main">
      <div class="hnb-field">
        <div class="hnb-fieldbar">
          <label><input type="checkbox" data-testid="labels"> Show Labels</label>
          <span class="hnb-legend"></span>
        </div>
        <svg class="hnb-fieldview" data-testid="field" viewBox="-100 -100 200 200" preserveAspectRatio="xMidYMid meet"></svg>
        <div class="hnb-fibre" data-testid="fibre-info"></div>
      </div>
      <div class="hnb-spectrum">
        <div class="hnb-specbar">
          <button data-testid="prev" title="previous fibre (←, p)">◀</button>
          <button data-testid="next" title="next fibre (→, n)">▶</button>
          <label><input type="checkbox" data-testid="variance" checked> variance</label>
          <label><input type="checkbox" data-testid="sky"> sky</label>
          <label><input type="checkbox" data-testid="rwss"> before sky subtraction</label>
          <label>smooth <select data-testid="smooth">${SMOOTHING.map((w) => `<option value="${w}">${w === 1 ? "none" : w + " px"}</option>`).join("")}</select></label>
          <label>z <input data-testid="redshift" type="number" step="0.0001" min="-0.01" value="0" size="6"></label>
          <label><input type="checkbox" data-testid="lines"> lines</label>
          <label title="the whole range of the values, outliers too"><input type="checkbox" data-testid="full-range"> full range</label>
        </div>
        <div class="hnb-plot" data-testid="spectrum"></div>
      </div>
    </div>`;
  const $ = (id) => root.querySelector(`[data-testid="${id}"]`);
  const svg = $("field");
  let spectrum = null; // {fibre, product, wave, flux, variance, sky, rwss}
  let plotted = 0;

  const say = () => {
    const m = model.get("message") || {};
    $("message").textContent = m.text || "";
    $("message").className = `hnb-message hnb-${m.kind || "info"}`;
  };
  model.on("change:message", say);

  // ---- product chooser ------------------------------------------------------------------
  const drawChoices = () => {
    const groups = {};
    for (const c of model.get("choices")) (groups[c.group] ||= []).push(c);
    $("product").innerHTML = Object.entries(groups).map(([g, cs]) =>
      `<optgroup label="${esc(g)}">${cs.map((c) => `<option value="${esc(c.key)}">${esc(c.label)}</option>`).join("")}</optgroup>`).join("");
    $("product").value = model.get("product");
  };
  model.on("change:choices", drawChoices);
  model.on("change:product", () => { $("product").value = model.get("product"); });
  $("product").addEventListener("change", () => { model.set("product", $("product").value); saveSafely(model); });
  $("request").addEventListener("change", () => {
    if ($("request").value) sendSafely(model, { type: "job", id: $("request").value });
  });
  $("upload").addEventListener("change", async () => {
    const file = $("upload").files[0];
    if (!file) return;
    $("message").textContent = `reading ${file.name}…`;
    // in pieces: Jupyter's websocket refuses messages over 10 MiB
    for (let offset = 0; offset < file.size || offset === 0; offset += UPLOAD_PIECE) {
      const piece = await file.slice(offset, offset + UPLOAD_PIECE).arrayBuffer();
      sendSafely(model, { type: "upload", name: file.name, size: file.size, offset }, [piece]);
      if (file.size === 0) break;
    }
    $("upload").value = "";
  });
  $("pdf").addEventListener("click", () => sendSafely(model, { type: "pdf" }));

  // ---- summary and fibre details -----------------------------------------------------------
  const drawSummary = () => {
    const s = model.get("summary") || {};
    if (!s.product) { $("summary").innerHTML = ""; return; }
    $("summary").innerHTML = `
      <span><b>Field</b> ${esc(s.field || "–")}</span>
      <span><b>Centre</b> ${esc(s.centre || "–")}</span>
      <span><b>Exposure</b> ${s.exposure == null ? "–" : esc(s.exposure) + " s"}</span>
      <span><b>Date</b> ${esc(s.date || "–")}</span>
      <span><b>Grating</b> ${esc(s.grating || "–")}</span>
      <span><b>Fibres</b> ${esc(s.n_fibres)}</span>
      <span title="${esc(s.product)}"><b>File</b> ${esc(s.product)}</span>`;
    $("sky").disabled = !s.has_sky;
    $("rwss").disabled = !s.has_rwss;
    $("variance").disabled = !s.has_variance;
  };
  const drawFibreInfo = () => {
    const f = model.get("fibres"), i = model.get("fibre"), types = model.get("types");
    if (!f.name || i >= f.name.length) { $("fibre-info").innerHTML = ""; return; }
    const mag = f.magnitude[i];
    $("fibre-info").innerHTML = `
      <b>Fibre ${i + 1}</b> of ${f.name.length}: <span data-testid="fibre-name">${esc(f.name[i])}</span>
      (<span data-testid="fibre-type">${esc(types[f.type[i]] || f.type[i])}</span>)<br>
      ${f.position[i] ? `${esc(f.position[i])}` : "no position"}
      ${mag != null && mag !== 0 ? ` · ${esc(mag)} mag` : ""}
      ${f.bundle[i] ? ` · hexabundle ${esc(f.bundle[i])}` : ""}${f.probe[i] ? ` (probe ${esc(f.probe[i])})` : ""}
      ${f.comment[i] ? `<br><i>${esc(f.comment[i])}</i>` : ""}`;
  };

  // ---- field view -------------------------------------------------------------------------
  let marks = [];
  const drawField = () => {
    const f = model.get("fibres"), types = model.get("types");
    svg.innerHTML = "";
    marks = [];
    if (!f.name) return;
    // the plate: 2dF and Hector both have a 2-degree field; fibres beyond it widen the view
    let extent = FIELD_RADIUS;
    for (let i = 0; i < f.name.length; i++) {
      if (f.east[i] != null) extent = Math.max(extent, Math.abs(f.east[i]), Math.abs(f.north[i]));
    }
    const scale = 88 / extent, ns = "http://www.w3.org/2000/svg";
    svg.innerHTML = `<circle class="hnb-rim" r="${(FIELD_RADIUS * scale).toFixed(1)}"></circle>` +
      `<path class="hnb-axis" d="M-4 0H4M0 -4V4"></path>` +
      `<text class="hnb-compass" x="-2" y="-92">N</text><text class="hnb-compass" x="-98" y="2">E</text>`;
    const labels = $("labels").checked;
    const seen = new Set();
    // labels that would overlap one already placed are left off (the fibre's tooltip and the
    // info panel still name it): 3.2-unit text, about 1.9 units a character
    const placed = [];
    const fits = (x, y, text) => {
      const box = [x, y - 3.2, x + 1.9 * text.length, y + 0.6];
      if (placed.some((b) => box[0] < b[2] && b[0] < box[2] && box[1] < b[3] && b[1] < box[3])) return false;
      placed.push(box);
      return true;
    };
    for (let i = 0; i < f.name.length; i++) {
      if (f.east[i] == null) { marks.push(null); continue; }
      const x = -f.east[i] * scale, y = -f.north[i] * scale; // east left, north up
      const g = document.createElementNS(ns, "g");
      g.setAttribute("class", `hnb-fib hnb-type-${f.type[i]}`);
      g.dataset.fibre = String(i);
      g.innerHTML = `<circle cx="${x.toFixed(2)}" cy="${y.toFixed(2)}" r="2.2" fill="${model.get("type_colours")[f.type[i]] || "#555"}"></circle>` +
        `<title>${i + 1} ${esc(f.name[i])} (${esc(types[f.type[i]] || f.type[i])})</title>`;
      const text = f.bundle[i] || f.name[i];
      if (labels && !seen.has(text) && fits(x + 3, y + 1, text)) {
        seen.add(text);
        g.innerHTML += `<text x="${(x + 3).toFixed(2)}" y="${(y + 1).toFixed(2)}">${esc(text)}</text>`;
      }
      svg.appendChild(g);
      marks.push(g);
    }
    $("field").dataset.labels = String(labels);
    $("field").dataset.labelled = String(placed.length);
    const present = [...new Set(f.type)];
    root.querySelector(".hnb-legend").innerHTML = present.map((t) =>
      `<span><i style="background:${model.get("type_colours")[t] || "#555"}"></i>${esc(types[t] || t)}</span>`).join(" ");
    highlight();
  };
  const highlight = () => {
    for (const g of svg.querySelectorAll(".hnb-selected")) g.classList.remove("hnb-selected");
    const g = marks[model.get("fibre")];
    if (g) { g.classList.add("hnb-selected"); svg.appendChild(g); } // on top
  };
  svg.addEventListener("click", (ev) => {
    const g = ev.target.closest("g.hnb-fib");
    if (g) choose(Number(g.dataset.fibre));
  });
  $("labels").addEventListener("change", () => { model.set("show_labels", $("labels").checked); saveSafely(model); });
  model.on("change:show_labels", () => { $("labels").checked = model.get("show_labels"); drawField(); });

  // ---- choosing a fibre -------------------------------------------------------------------
  const choose = (i) => {
    const n = (model.get("fibres").name || []).length;
    if (!n) return;
    i = ((i % n) + n) % n;
    model.set("fibre", i);
    saveSafely(model);
    sendSafely(model, { type: "spectrum", fibre: i });
  };
  model.on("change:fibre", () => { highlight(); drawFibreInfo(); });
  $("labels").checked = model.get("show_labels");
  $("prev").addEventListener("click", () => choose(model.get("fibre") - 1));
  $("next").addEventListener("click", () => choose(model.get("fibre") + 1));
  const onKey = (ev) => {
    if (ev.target.closest && ev.target.closest("input, select, textarea")) return;
    if (ev.key === "ArrowRight" || ev.key === "n") { choose(model.get("fibre") + 1); ev.preventDefault(); }
    else if (ev.key === "ArrowLeft" || ev.key === "p") { choose(model.get("fibre") - 1); ev.preventDefault(); }
  };
  root.addEventListener("keydown", onKey);
  // On the app's own (Voilà) page the keys work before anything is clicked: keys that
  // reach the page's body are the app's.
  if (document.body.dataset.voila === "voila") {
    document.addEventListener("keydown", (ev) => { if (ev.target === document.body) onKey(ev); });
  }

  // ---- spectrum ---------------------------------------------------------------------------
  const plot = $("spectrum");
  const draw = async () => {
    if (!spectrum) return;
    let Plotly;
    try {
      Plotly = await loadPlotly(model.get("plotly_version"));
    } catch (e) {
      plot.textContent = String(e.message || e);
      return;
    }
    const s = spectrum, f = model.get("fibres"), sm = model.get("summary"), types = model.get("types");
    const width = Number($("smooth").value);
    const wave = Array.from(s.wave);
    const flux = smooth(s.flux, width);
    const traces = [];
    if (s.variance && $("variance").checked) {
      const v = smooth(s.variance, width);
      const sigma = Array.from(v, (x) => (x >= 0 ? Math.sqrt(x / width) : NaN));
      const b = band(wave, flux, sigma);
      traces.push({ x: b.x, y: b.y, mode: "lines", line: { width: 0 }, fill: "toself", fillcolor: "rgba(31,111,178,0.18)", hoverinfo: "skip", name: "±1σ" });
    }
    traces.push({ x: wave, y: Array.from(flux), mode: "lines", line: { width: 1, color: "#17324d" }, name: "flux" });
    if (s.sky && $("sky").checked) traces.push({ x: wave, y: Array.from(smooth(s.sky, width)), mode: "lines", line: { width: 1, color: "#2e9e4f" }, name: "sky" });
    if (s.rwss && $("rwss").checked) traces.push({ x: wave, y: Array.from(smooth(s.rwss, width)), mode: "lines", line: { width: 1, color: "#e08a00" }, name: "before sky subtraction" });
    const shapes = [], annotations = [];
    const z = Number($("redshift").value) || 0;
    let unlabelled = 0;
    if ($("lines").checked) {
      const lo = wave[0], hi = wave[wave.length - 1];
      const shown = model.get("lines").map((line) => ({ ...line, at: line.rest * (1 + z) }))
        .filter((line) => line.at >= lo && line.at <= hi).sort((a, b) => a.at - b.at);
      const hover = { x: [], y: [], text: [] };
      for (const line of placeLabels(shown, lo, hi, plot.clientWidth - 70)) {
        const colour = line.kind === "emission" ? "#c8322d" : "#6a3d9a";
        shapes.push({ type: "line", xref: "x", yref: "paper", x0: line.at, x1: line.at, y0: 0, y1: 1, line: { color: colour, width: 1, dash: "dot" } });
        if (line.row >= 0) {
          annotations.push({ x: line.at, xref: "x", y: 1 - 0.065 * line.row, yref: "paper", text: esc(line.name), showarrow: false, xanchor: "center", yanchor: "top", bgcolor: "rgba(255,255,255,0.75)", font: { size: 10, color: colour } });
        } else unlabelled += 1;
        hover.x.push(line.at); hover.text.push(`${line.name} ${line.rest.toFixed(2)} Å at z = ${z}`);
      }
      if (hover.x.length) {
        // every line, labelled or not, names itself on hover at the foot of the plot
        const [y0] = robustRange(flux) || [0];
        traces.push({ x: hover.x, y: hover.x.map(() => y0), text: hover.text, mode: "markers", marker: { size: 8, opacity: 0 }, hoverinfo: "text", showlegend: false, name: "lines" });
      }
    }
    const full = $("full-range").checked;
    const yrange = full ? null : robustRange(flux);
    const i = s.fibre;
    const title = `Fibre ${i + 1}: ${esc(f.name[i])} (${esc(types[f.type[i]] || f.type[i])})` + (z ? ` · lines at z = ${z}` : "");
    await Plotly.react(plot, traces, {
      title: { text: title, font: { size: 13 } },
      margin: { l: 60, r: 10, t: 36, b: 44 },
      xaxis: { title: { text: `Wavelength (Å, ${sm.medium || "air"})` }, uirevision: s.product },
      yaxis: yrange ? { title: { text: "Counts" }, range: yrange, autorange: false }
        : { title: { text: "Counts" }, autorange: true },
      legend: { orientation: "h", y: -0.18 },
      shapes, annotations,
      uirevision: s.product,
    }, { responsive: true, displaylogo: false, toImageButtonOptions: { filename: `fibre-${i + 1}` } });
    plotted += 1;
    plot.dataset.fibre = String(i);
    plot.dataset.product = s.product;
    plot.dataset.drawnAt = String(performance.now());
    plot.dataset.name = f.name[i];
    plot.dataset.count = String(plotted);
    plot.dataset.smooth = String(width);
    plot.dataset.traces = traces.map((t) => t.name).join(",");
    plot.dataset.lines = String(shapes.length);
    plot.dataset.labels = String(annotations.length);
    plot.dataset.unlabelled = String(unlabelled);
    plot.dataset.yrange = yrange ? yrange.map((v) => v.toFixed(3)).join(",") : "auto";
  };
  for (const id of ["variance", "sky", "rwss", "smooth", "lines", "full-range"]) $(id).addEventListener("change", draw);
  $("redshift").addEventListener("input", () => { if ($("lines").checked) draw(); });

  model.on("msg:custom", (msg, buffers) => {
    if (msg.type === "spectrum") {
      if (msg.product !== model.get("product")) return;
      const s = { fibre: msg.fibre, product: msg.product };
      msg.arrays.forEach((name, k) => {
        const b = buffers[k];
        s[name] = new Float32Array(b.buffer ? b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) : b);
      });
      if (msg.fibre !== model.get("fibre")) return; // an answer overtaken by another click
      spectrum = s;
      draw();
    } else if (msg.type === "pdf") {
      saveBytes(buffers[0], msg.name, "application/pdf", "pdf-link");
    } else if (msg.type === "requests") {
      $("request").innerHTML = `<option value="">your requests…</option>` + msg.requests.map((r) =>
        `<option value="${esc(r.id)}">${esc(r.created)} · ${esc(r.n_frames)} frames · ${esc(r.status)}</option>`).join("");
    }
  });

  const onProduct = () => { drawSummary(); drawField(); drawFibreInfo(); };
  model.on("change:summary", onProduct);
  model.on("change:fibres", onProduct);
  drawChoices(); say(); onProduct(); markReady();
  // the kernel opens the product while plotly.js loads
  const params = Object.fromEntries(new URLSearchParams(window.location.search).entries());
  sendSafely(model, { type: "init", params });
  if (model.get("summary").product) sendSafely(model, { type: "spectrum", fibre: model.get("fibre") });
  loadPlotly(model.get("plotly_version")).then(() => {
    model.set("page_ready", true);
    saveSafely(model);
  }).catch(() => {});
  noteIfNoAladin("The field plot above shows the same fibres, and works without it.");
}

export default { render };
