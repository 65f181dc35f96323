// Helpers every app's front end shares; `hectornb.widgets.esm` puts this file in front of
// each app's module (an anywidget module is one file, with nothing to import from).

function esc(s) {
  return String(s ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
}

function baseUrl() {
  // the server's base URL: from the Jupyter config of the page, else the path before voila/
  const cfg = document.getElementById("jupyter-config-data");
  if (cfg) {
    try {
      const base = JSON.parse(cfg.textContent).baseUrl;
      if (base) return base.endsWith("/") ? base : base + "/";
    } catch (e) { /* fall through */ }
  }
  const path = window.location.pathname;
  const at = path.indexOf("voila/");
  return at >= 0 ? path.slice(0, at) : "/";
}

// Aladin Lite comes from a CDN: when it has not loaded after a while, say so where the sky
// view would be, and what works without it.
function noteIfNoAladin(without) {
  setTimeout(() => {
    const note = document.querySelector(".hnb-sky-note");
    if (note && !document.querySelector(".aladin-container")) {
      note.innerHTML = "<b>Sky view</b> could not be loaded (Aladin Lite comes from esm.sh; " +
        `offline?). ${without}`;
    }
  }, 8000);
}
