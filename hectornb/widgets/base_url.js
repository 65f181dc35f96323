// Where the page's server is: shared by the apps' modules (after `common.js`) and by the
// Aladin Lite module the platform serves (`hectornb.widgets.aladin`).

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
  const at = Math.max(path.indexOf("voila/"), path.indexOf("hectornb/apps/"));
  return at >= 0 ? path.slice(0, at) : "/";
}
