// twitchcam serve: the pages' behaviour. No framework, no network beyond this server.
// Every request that changes something carries the server's token from the page's <meta> tag.
"use strict";

const TOKEN = document.querySelector('meta[name="twitchcam-token"]').content;
const MAX_UPLOAD_MB = Number(document.querySelector('meta[name="twitchcam-max-upload-mb"]').content);

const PATTERN_TITLES = JSON.parse(document.querySelector('meta[name="twitchcam-pattern-labels"]').content);

async function api(method, url) {
  const response = await fetch(url, { method, headers: { "X-Twitchcam-Token": TOKEN } });
  let body = {};
  try { body = JSON.parse(await response.text() || "{}"); } catch (err) { /* not JSON: use the status below */ }
  if (!response.ok) throw new Error(body.error || `The server answered ${response.status}.`);
  return body;
}

// Send a file as the request body (streamed from disk by the browser); resolves to the new session.
function uploadFile(file, name, label, onProgress) {
  return new Promise((resolve, reject) => {
    if (file.size > MAX_UPLOAD_MB * 1024 * 1024) {
      reject(new Error(`“${name}” is larger than this server's limit of ${MAX_UPLOAD_MB} MB.`));
      return;
    }
    const xhr = new XMLHttpRequest();
    const query = new URLSearchParams({ name, label });
    xhr.open("POST", `/api/upload?${query}`);
    xhr.setRequestHeader("X-Twitchcam-Token", TOKEN);
    xhr.setRequestHeader("Content-Type", "application/octet-stream");
    xhr.upload.onprogress = (e) => { if (e.lengthComputable) onProgress(e.loaded / e.total); };
    xhr.onload = () => {
      let body = {};
      try { body = JSON.parse(xhr.responseText); } catch (err) { /* not JSON: use the status below */ }
      if (xhr.status === 201) resolve(body);
      else reject(new Error(body.error || `Upload of “${name}” failed (server answered ${xhr.status}).`));
    };
    xhr.onerror = () => reject(new Error(`Upload of “${name}” was interrupted.`));
    xhr.send(file);
  });
}

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") node.className = v; else node.setAttribute(k, v);
  }
  for (const child of children) node.append(child instanceof Node ? child : String(child ?? ""));
  return node;
}

function formatDuration(s) {
  if (s === null || s === undefined) return "";
  if (s < 60) return `${s.toFixed(1)} s`;
  const m = Math.floor(s / 60);
  return `${m}:${String(Math.round(s - 60 * m)).padStart(2, "0")} min`;
}

function formatDate(iso) { return iso.replace("T", " ").slice(0, 16); }

function statusText(s) {
  if (s.state === "done") return "report ready";
  if (s.state === "failed") return `failed: ${s.error}`;
  if (s.state === "queued") return "waiting";
  const { frames_done: done, frames_total: total } = s.progress;
  if (s.state === "annotating") {
    const words = "making the annotated video";
    return total > 0 ? `${words} ${Math.floor((100 * done) / total)} %` : words;
  }
  if (total > 0 && done >= total) return "writing the report";
  if (total > 0) return `analyzing ${Math.floor((100 * done) / total)} %`;
  return done > 0 ? `analyzing (${done} frames)` : "analyzing";
}

function progressFraction(s) {
  const { frames_done: done, frames_total: total } = s.progress;
  return total > 0 ? Math.min(1, done / total) : null;
}

// ---- sessions page -------------------------------------------------------------------------------------------
function sessionRow(s) {
  const perMin = s.events_per_minute
    ? `${(s.events_per_minute.left ?? 0).toFixed(1)} / ${(s.events_per_minute.right ?? 0).toFixed(1)}` : "";
  const status = el("td", { class: `state state-${s.state}` }, statusText(s));
  if ((s.state === "running" || s.state === "annotating") && progressFraction(s) !== null) {
    const bar = el("progress", { max: "1" });
    bar.value = progressFraction(s);
    status.prepend(bar, " ");
  }
  return el("tr", { "data-sid": s.id, "data-state": s.state },
    el("td", {}, el("a", { href: `/sessions/${s.id}` }, s.label || s.original_name),
      s.label ? el("span", { class: "file" }, s.original_name) : ""),
    el("td", {}, formatDate(s.created)),
    el("td", {}, formatDuration(s.duration_s)),
    el("td", {}, s.pattern ? PATTERN_TITLES[s.pattern] || s.pattern : "",
      s.complete === false ? el("span", { class: "file" }, `incomplete: ${Math.round(100 * s.decoded_fraction)}% of the file decoded`) : ""),
    el("td", {}, s.side || (s.state === "done" ? "–" : "")),
    el("td", { class: "num" }, perMin),
    status);
}

async function refreshSessions() {
  let pending = false;
  try {
    const { sessions } = await api("GET", "/api/sessions");
    const tbody = document.querySelector("#sessions tbody");
    tbody.replaceChildren(...sessions.map(sessionRow));
    document.getElementById("no-sessions").hidden = sessions.length > 0;
    document.getElementById("sessions").hidden = sessions.length === 0;
    pending = sessions.some((s) => ["queued", "running", "annotating"].includes(s.state));
  } catch (err) {
    pending = true; // server restarting: keep trying
  }
  setTimeout(refreshSessions, pending ? 1000 : 5000);
}

function setupIndex() {
  const drop = document.getElementById("drop");
  const input = document.getElementById("file-input");
  const list = document.getElementById("uploads");
  let chain = Promise.resolve();

  function addFiles(files) {
    const label = document.getElementById("label").value;
    for (const file of files) {
      const text = el("span", {}, "waiting to upload");
      const bar = el("progress", { max: "1", value: "0" });
      const item = el("li", {}, el("strong", {}, file.name), " ", bar, " ", text);
      list.prepend(item);
      chain = chain.then(() => uploadFile(file, file.name, label, (f) => {
        bar.value = f;
        text.textContent = `uploading ${Math.floor(100 * f)} %`;
      }).then((session) => {
        bar.remove();
        item.className = "ok";
        text.replaceChildren("uploaded, analysis queued: ",
          el("a", { href: `/sessions/${session.id}` }, "open session"));
        refreshSessions();
      }, (err) => {
        bar.remove();
        item.className = "error";
        text.textContent = err.message;
      }));
    }
  }

  input.addEventListener("change", () => { addFiles(input.files); input.value = ""; });
  for (const type of ["dragenter", "dragover"]) {
    drop.addEventListener(type, (e) => { e.preventDefault(); drop.classList.add("over"); });
  }
  for (const type of ["dragleave", "drop"]) {
    drop.addEventListener(type, () => drop.classList.remove("over"));
  }
  drop.addEventListener("drop", (e) => { e.preventDefault(); addFiles(e.dataTransfer.files); });
  // A file dropped outside the zone would otherwise make the browser navigate away to it.
  window.addEventListener("dragover", (e) => e.preventDefault());
  window.addEventListener("drop", (e) => e.preventDefault());
  refreshSessions();
}

// ---- session page --------------------------------------------------------------------------------------------
function setupSession() {
  const status = document.getElementById("status");
  const sid = status.dataset.sid;
  document.getElementById("delete").addEventListener("click", async () => {
    const question = "Delete this session? The video and every result of it are removed from this computer.";
    if (!window.confirm(question)) return;
    try {
      await api("DELETE", `/api/sessions/${sid}`);
      window.location.assign("/");
    } catch (err) {
      window.alert(err.message);
    }
  });
  const retry = document.getElementById("retry");
  if (retry) {
    retry.addEventListener("click", async () => {
      await api("POST", `/api/sessions/${sid}/retry`);
      window.location.reload();
    });
  }
  const annotate = document.getElementById("annotate");
  if (annotate) {
    annotate.addEventListener("click", async () => {
      annotate.disabled = true;
      try {
        await api("POST", `/api/sessions/${sid}/annotate`);
        window.location.reload();
      } catch (err) {
        window.alert(err.message);
        annotate.disabled = false;
      }
    });
  }
  if (!["queued", "running", "annotating"].includes(status.dataset.state)) return;
  const bar = document.getElementById("progress");
  const text = document.getElementById("progress-text");
  async function poll() {
    try {
      const s = await api("GET", `/api/sessions/${sid}`);
      if (s.state !== status.dataset.state && (s.state === "done" || s.state === "failed")) {
        window.location.reload();
        return;
      }
      const f = progressFraction(s);
      if (f === null) bar.removeAttribute("value"); else bar.value = f;
      const words = statusText(s);
      text.textContent = s.state === "queued"
        ? "Waiting for a free worker…" : `${words[0].toUpperCase()}${words.slice(1)}…`;
    } catch (err) {
      text.textContent = "Waiting for the server…";
    }
    setTimeout(poll, 700);
  }
  poll();
}

// ---- record page ---------------------------------------------------------------------------------------------
function setupRecord() {
  const preview = document.getElementById("preview");
  const cameraButton = document.getElementById("camera");
  const recordButton = document.getElementById("record");
  const status = document.getElementById("record-status");
  const countdown = document.getElementById("countdown");
  let stream = null;

  cameraButton.addEventListener("click", async () => {
    if (!navigator.mediaDevices || !window.MediaRecorder) {
      status.textContent = "This browser cannot record here. Open the page at http://127.0.0.1 in a current browser.";
      return;
    }
    try {
      stream = await navigator.mediaDevices.getUserMedia(
        { video: { width: { ideal: 1280 }, height: { ideal: 720 }, frameRate: { ideal: 30 } }, audio: false });
    } catch (err) {
      status.textContent = `The camera could not be opened (${err.name}). Allow camera access and try again.`;
      return;
    }
    preview.srcObject = stream;
    cameraButton.disabled = true;
    recordButton.disabled = false;
    status.textContent = "Camera on. Check the whole face is in view, then press Record.";
  });

  recordButton.addEventListener("click", () => {
    const seconds = Number(document.getElementById("duration").value);
    const label = document.getElementById("label").value;
    const type = ["video/webm;codecs=vp8", "video/webm;codecs=vp9", "video/webm", "video/mp4"]
      .find((t) => MediaRecorder.isTypeSupported(t)) || "";
    const recorder = new MediaRecorder(stream, type ? { mimeType: type, videoBitsPerSecond: 4000000 } : {});
    const chunks = [];
    recorder.ondataavailable = (e) => { if (e.data.size) chunks.push(e.data); };
    recorder.onstop = async () => {
      countdown.hidden = true;
      const blob = new Blob(chunks, { type: recorder.mimeType || "video/webm" });
      const ext = (recorder.mimeType || "").includes("mp4") ? "mp4" : "webm";
      const stamp = new Date().toISOString().slice(0, 19).replace(/[-:]/g, "").replace("T", "-");
      status.textContent = "Uploading the recording…";
      try {
        const session = await uploadFile(blob, `recording-${stamp}.${ext}`, label,
          (f) => { status.textContent = `Uploading the recording… ${Math.floor(100 * f)} %`; });
        status.textContent = "Uploaded; opening the session…";
        window.location.assign(`/sessions/${session.id}`);
      } catch (err) {
        status.textContent = err.message;
        recordButton.disabled = false;
      }
    };
    recordButton.disabled = true;
    const started = performance.now();
    recorder.start(1000);
    countdown.hidden = false;
    status.textContent = "Recording…";
    const tick = () => {
      const left = seconds - (performance.now() - started) / 1000;
      if (left <= 0) { recorder.stop(); return; }
      countdown.textContent = `● ${Math.ceil(left)} s`;
      setTimeout(tick, 200);
    };
    tick();
  });
}

const SETUP = { index: setupIndex, session: setupSession, record: setupRecord };
(SETUP[document.body.dataset.page] || (() => {}))();
