// Helpers every app's front end shares; `hectornb.widgets.esm` puts this file in front of
// each app's module (an anywidget module is one file, with nothing to import from).

function esc(s) {
  return String(s ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
}

// A message to the kernel. Once the page's kernel is gone (the page is being left, or the
// server shut the kernel down) its comm throws "Cannot send" from timers and late events:
// there is no one left to tell, so nothing is sent.
function sendSafely(model, msg, buffers) {
  whileKernelLives(() => model.send(msg, undefined, buffers));
}

// The model's changes to the kernel (`save_changes` sends them), on the same terms.
function saveSafely(model) {
  whileKernelLives(() => model.save_changes());
}

function whileKernelLives(action) {
  try {
    action();
  } catch (e) {
    if (!String(e && e.message).includes("Cannot send")) throw e;
    console.warn("hectornb: this page's kernel is gone; reload the page to go on");
  }
}

function apiBase(model) {
  // the platform's REST API: this server's, or the data centre's service a user's own
  // server is a client of (the widget's `service_api`, a path behind the same Hub proxy)
  return model.get("service_api") || baseUrl() + "hectornb/api/";
}

function appUrl(notebook) {
  // another app of this platform, where this server renders its apps: Voilà's own
  // voila/render/ (hectornb serve), or hectornb/apps/ (the extension in a Jupyter server)
  const inApps = window.location.pathname.includes("/hectornb/apps/");
  return baseUrl() + (inApps ? "hectornb/apps/" : "voila/render/") + notebook;
}

// When Aladin Lite has not started after a while (a browser without WebGL, say), say so where
// the sky view would be, and what works without it.
function noteIfNoAladin(without) {
  setTimeout(() => {
    const note = document.querySelector(".hnb-sky-note");
    if (note && !document.querySelector(".aladin-container")) {
      note.innerHTML = "<b>Sky view</b> could not be started in this browser (Aladin Lite needs WebGL). " +
        without;
    }
  }, 8000);
}

// Bytes the kernel sent (a DataView or ArrayBuffer) saved by the browser as a file; the
// link stays in the page a minute with data-testid `testid`, for tests to find.
function saveBytes(bytes, name, mime, testid) {
  const data = bytes.buffer ? bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) : bytes;
  const a = document.createElement("a");
  a.href = URL.createObjectURL(new Blob([data], { type: mime }));
  a.download = name;
  a.dataset.testid = testid;
  document.body.appendChild(a);
  a.click();
  setTimeout(() => { URL.revokeObjectURL(a.href); a.remove(); }, 60_000);
}
