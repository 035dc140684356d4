// twitchcam serve: the review page. Video and event timeline kept in step both ways; keyboard first.
// Every decision goes to the server at once and is shown only once the server has saved it.
"use strict";

(() => {
  const root = document.getElementById("review");
  if (!root) return;
  const SID = root.dataset.sid;
  const TOKEN_META = document.querySelector('meta[name="twitchcam-token"]');
  const $ = (id) => document.getElementById(id);
  const video = $("video");
  const reviewerInput = $("reviewer");

  // One lane per side and region, in the order of the report (the patient's left first).
  const LANES = [
    ["left", "periocular", "L eye"], ["left", "perioral", "L mouth"], ["left", "brow", "L brow"],
    ["right", "periocular", "R eye"], ["right", "perioral", "R mouth"], ["right", "brow", "R brow"],
    ["bilateral", "periocular", "Both eyes"],
  ];
  const SIDES = ["left", "right", "bilateral"];
  const REGIONS = ["periocular", "perioral", "brow"];
  const REGION_WORDS = { periocular: "eye", perioral: "mouth", brow: "brow" };
  // An event is played from a little before its onset to a little after its offset.
  const LEAD_S = 0.7;
  const TAIL_S = 0.8;
  const ADDED_DURATION_S = 0.3;
  const MAX_VIEW_S = 20;

  let state = null;
  let selected = null;
  let cursor = 0;
  let pendingSeek = null; // a seek asked for before the video could take one (no metadata yet)
  let stopAt = null;
  let view = { start: 0, len: MAX_VIEW_S };
  let reasonsOpen = false;

  reviewerInput.value = localStorage.getItem("twitchcam-reviewer") || "";
  reviewerInput.addEventListener("change", () => localStorage.setItem("twitchcam-reviewer", reviewerInput.value.trim()));
  reviewerInput.addEventListener("keydown", (e) => {
    if (e.key === "Enter" || e.key === "Escape") { e.preventDefault(); reviewerInput.blur(); }
  });

  function el(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) {
      if (k === "class") node.className = v; else node.setAttribute(k, v);
    }
    for (const child of children) node.append(child instanceof Node ? child : String(child ?? ""));
    return node;
  }

  function showSaved(text, isError = false) {
    const box = $("saved");
    box.textContent = text;
    box.classList.toggle("error", isError);
  }

  function ordered() {
    const lane = (ev) => LANES.findIndex(([s, r]) => s === ev.side && r === ev.region);
    return [...state.events].sort((a, b) => a.onset_s - b.onset_s || lane(a) - lane(b));
  }

  function current() { return state && state.events.find((ev) => ev.id === selected); }

  async function load() {
    const response = await fetch(`/api/sessions/${SID}/review`);
    const body = await response.json();
    if (!response.ok) { showSaved(body.error || `The server answered ${response.status}.`, true); return; }
    state = body;
    view.len = Math.min(MAX_VIEW_S, state.duration_s || MAX_VIEW_S);
    video.src = state.video;
    render();
    if (!reviewerInput.value) reviewerInput.focus();
  }

  // Decisions go to the server one after the other, none dropped: each is built when its turn comes (from the
  // state the previous one left), so keys pressed quickly act as if pressed after each answer.
  let queue = Promise.resolve();

  function send(build) {
    const result = queue.then(() => post(typeof build === "function" ? build() : build));
    queue = result.catch(() => null);
    return result;
  }

  async function post(decision) {
    if (!decision) return null;
    const reviewer = reviewerInput.value.trim();
    if (!reviewer) {
      showSaved("Type your name as the reviewer first (then Enter).", true);
      reviewerInput.focus();
      return null;
    }
    localStorage.setItem("twitchcam-reviewer", reviewer);
    const headers = { "Content-Type": "application/json" };
    if (TOKEN_META) headers["X-Twitchcam-Token"] = TOKEN_META.content;
    showSaved("Saving…");
    try {
      const response = await fetch(`/api/sessions/${SID}/review`,
        { method: "POST", headers, body: JSON.stringify({ reviewer, decision }) });
      let body = {};
      try { body = await response.json(); } catch (err) { /* not JSON: use the status below */ }
      if (!response.ok) { showSaved(body.error || `Not saved: the server answered ${response.status}.`, true); return null; }
      const before = new Set(state.events.map((ev) => ev.id));
      state = body;
      showSaved(`Saved ${new Date().toLocaleTimeString()}`);
      render();
      return state.events.filter((ev) => !before.has(ev.id));
    } catch (err) {
      showSaved("Not saved: the server cannot be reached.", true);
      return null;
    }
  }

  // ---- time and playback -------------------------------------------------------------------------------------
  function frame() { return 1 / (state && state.fps > 0 ? state.fps : 30); }

  function seek(t, play = false) {
    cursor = Math.max(0, Math.min(t, state.duration_s));
    if (video.readyState > 0) video.currentTime = cursor; else pendingSeek = cursor;
    if (play) video.play().catch(() => { /* the video may not play here; the cursor still moves */ });
    follow();
    drawCursor();
  }

  function jump(ev) {
    if (!ev) return;
    selected = ev.id;
    closeReasons();
    stopAt = ev.offset_s + TAIL_S;
    seek(ev.onset_s - LEAD_S, true);
    render();
    const row = document.querySelector(`#events tr[data-id="${ev.id}"]`);
    if (row) row.scrollIntoView({ block: "nearest" });
  }

  function step(direction) {
    if (!state.events.length) return;
    const list = ordered();
    let i = list.findIndex((ev) => ev.id === selected);
    if (i < 0) {
      i = direction > 0 ? list.findIndex((ev) => ev.onset_s >= cursor - 1e-3) : list.length - 1;
      if (i < 0) i = list.length - 1;
    } else {
      i = Math.max(0, Math.min(list.length - 1, i + direction));
    }
    jump(list[i]);
  }

  function tick() {
    if (state && !video.paused && pendingSeek === null) {
      cursor = video.currentTime;
      if (stopAt !== null && cursor >= stopAt) { video.pause(); stopAt = null; }
      follow();
    }
    if (state) drawCursor();
    requestAnimationFrame(tick);
  }

  function follow() {
    if (cursor < view.start || cursor > view.start + view.len * 0.92) {
      view.start = Math.max(0, Math.min(cursor - view.len * 0.3, state.duration_s - view.len));
      drawTimeline();
    }
  }

  // ---- drawing -------------------------------------------------------------------------------------------------
  const pct = (t) => `${(100 * (t - view.start)) / view.len}%`;

  function drawCursor() {
    const line = document.querySelector("#tracks .cursor");
    if (line) line.style.left = pct(cursor);
    $("clock").textContent = `${cursor.toFixed(2)} s of ${state.duration_s.toFixed(1)} s`;
  }

  function decisionText(ev) {
    if (ev.status === "rejected") return `rejected: ${(state.reasons.find((r) => r.id === ev.reason) || {}).title || ev.reason}`;
    if (ev.status === "added") return "added by the reviewer";
    const o = ev.original;
    const changed = o && ["onset_s", "offset_s", "side", "region", "kind"].some((k) => o[k] !== ev[k]);
    if (ev.status === "accepted") return changed ? "accepted, corrected" : "accepted";
    return "not yet reviewed";
  }

  function describe(ev) {
    const who = ev.side === "bilateral" ? "Both eyes" : `${ev.side[0].toUpperCase()}${ev.side.slice(1)} ${REGION_WORDS[ev.region]}`;
    return `${who}, ${ev.kind}, ${ev.onset_s.toFixed(3)}–${ev.offset_s.toFixed(3)} s (${(ev.offset_s - ev.onset_s).toFixed(2)} s)`;
  }

  function drawTimeline() {
    const labels = $("labels");
    const tracks = $("tracks");
    labels.replaceChildren(...LANES.map(([, , name]) => el("div", { class: "lane-label" }, name)), el("div", { class: "lane-label axis-label" }, "s"));
    const rows = LANES.map(() => el("div", { class: "track" }));
    for (const ev of state.events) {
      const lane = LANES.findIndex(([s, r]) => s === ev.side && r === ev.region);
      if (lane < 0 || ev.offset_s < view.start || ev.onset_s > view.start + view.len) continue;
      const bar = el("div", {
        class: `ev status-${ev.status}${ev.id === selected ? " selected" : ""}`, "data-id": ev.id,
        title: `${describe(ev)}: ${decisionText(ev)}`,
      });
      bar.style.left = pct(ev.onset_s);
      bar.style.width = `${(100 * Math.max(ev.offset_s - ev.onset_s, frame())) / view.len}%`;
      if (ev.id === selected) {
        bar.append(el("span", { class: "handle on", "data-end": "onset_s", title: "drag: onset" }),
          el("span", { class: "handle off", "data-end": "offset_s", title: "drag: offset" }));
      }
      rows[lane].append(bar);
    }
    const axis = el("div", { class: "track axis" });
    const stepS = [0.5, 1, 2, 5, 10, 30, 60, 120, 300].find((s) => view.len / s <= 12) || 600;
    for (let t = Math.ceil(view.start / stepS) * stepS; t <= view.start + view.len + 1e-9; t += stepS) {
      // The ticks at the ends are kept inside the track, so their labels are not cut.
      const edge = t - view.start < view.len * 0.02 ? " first" : view.start + view.len - t < view.len * 0.02 ? " last" : "";
      const tickEl = el("span", { class: `tick${edge}` }, Number.isInteger(t) ? t : t.toFixed(1));
      tickEl.style.left = pct(t);
      axis.append(tickEl);
    }
    tracks.replaceChildren(...rows, axis, el("div", { class: "cursor" }));
    $("view-hint").textContent = view.len < state.duration_s
      ? `timeline shows ${view.start.toFixed(1)}–${(view.start + view.len).toFixed(1)} s (+ / − to zoom)` : "";
    drawCursor();
  }

  function drawCurrent() {
    const box = $("current");
    const ev = current();
    const list = ordered();
    if (!ev) {
      box.replaceChildren(el("p", { class: "hint" }, list.length
        ? `${list.length} events. Press n for the first one, or click one on the timeline.`
        : "No events were detected. Play the video; press m to add a missed event at the cursor."));
      return;
    }
    const index = list.findIndex((x) => x.id === ev.id) + 1;
    const parts = [
      el("p", { class: "which" }, `Event ${index} of ${list.length} · ${ev.origin === "added" ? "added" : "automatic"}`),
      el("p", { class: `what status-${ev.status}` }, describe(ev)),
      el("p", { class: "decision" }, decisionText(ev)),
    ];
    const o = ev.original;
    if (o && ["onset_s", "offset_s", "side", "region", "kind"].some((k) => o[k] !== ev[k])) {
      parts.push(el("p", { class: "hint was" }, `detected as: ${describe(o)}`));
    }
    if (ev.origin === "automatic" || ev.status !== "rejected") parts.push(el("p", { class: "hint" }, `peak ${ev.peak.toFixed(3)}`));
    box.replaceChildren(...parts);
  }

  function finding(title, s, other) {
    if (!s) return el("div", { class: "finding-box" }, el("h3", {}, title), el("p", { class: "hint" }, "No decision yet."));
    const changed = other && (other.pattern !== s.pattern || other.side !== s.side);
    return el("div", { class: `finding-box${changed ? " changed" : ""}` }, el("h3", {}, title), el("p", {}, s.finding || ""));
  }

  function drawFindings() {
    const p = state.progress;
    $("findings").replaceChildren(
      finding("Automatic finding", state.automatic, null),
      finding("Reviewed finding", state.reviewed, state.automatic),
    );
    $("progress").textContent = `${p.reviewed} of ${p.automatic} automatic events reviewed · ${p.rejected} rejected · `
      + `${p.corrected} corrected · ${p.added} added${p.complete ? " · review complete" : ""}`
      + (state.reviewers.length ? ` · by ${state.reviewers.join(", ")}` : "");
  }

  function drawList() {
    const body = document.querySelector("#events tbody");
    body.replaceChildren(...ordered().map((ev, i) => el("tr", {
      "data-id": ev.id, class: `status-${ev.status}${ev.id === selected ? " selected" : ""}`,
    }, el("td", {}, i + 1), el("td", { class: "num" }, ev.onset_s.toFixed(3)), el("td", { class: "num" }, ev.offset_s.toFixed(3)),
    el("td", {}, ev.side), el("td", {}, ev.region), el("td", {}, ev.kind), el("td", { class: "num" }, ev.peak.toFixed(3)),
    el("td", {}, decisionText(ev)))));
  }

  function render() {
    drawTimeline();
    drawCurrent();
    drawFindings();
    drawList();
    for (const id of ["accept", "reject", "reset", "side", "region", "kind", "onset-earlier", "onset-later", "offset-earlier", "offset-later"]) {
      $(id).disabled = !current();
    }
    $("reset").disabled = !current() || current().origin === "added";
  }

  // ---- decisions -----------------------------------------------------------------------------------------------
  // Decide on the selected event (when the decision's turn comes), then select the next one and play it.
  async function decideAndAdvance(build) {
    if (await send(() => { const ev = current(); return ev && build(ev); })) {
      const list = ordered();
      const i = list.findIndex((ev) => ev.id === selected);
      if (i >= 0 && i < list.length - 1) jump(list[i + 1]);
    }
  }

  function accept() { decideAndAdvance((ev) => ({ action: "accept", event: ev.id })); }

  function openReasons() {
    if (!current()) return;
    reasonsOpen = true;
    const box = $("reasons");
    box.hidden = false;
    box.querySelectorAll("button").forEach((b) => b.remove());
    state.reasons.forEach((r, i) => {
      const b = el("button", { type: "button", class: "secondary", "data-reason": r.id }, el("kbd", {}, i + 1), ` ${r.title}`);
      b.addEventListener("click", () => reject(r.id));
      box.append(b);
    });
    box.querySelector("button").focus();
  }

  function closeReasons() { reasonsOpen = false; $("reasons").hidden = true; }

  function reject(reason) {
    closeReasons();
    decideAndAdvance((ev) => ({ action: "reject", event: ev.id, reason }));
  }

  // An edit of the selected event, its changes worked out from the event as the previous decision left it.
  function edit(changesOf) {
    send(() => { const ev = current(); const changes = ev && changesOf(ev); return changes && { action: "edit", event: ev.id, changes }; });
  }

  function undo() {
    send(() => { const ev = current(); return ev && ev.origin !== "added" && { action: "reset", event: ev.id }; });
  }

  function cycleSide() {
    edit((ev) => {
      const side = SIDES[(SIDES.indexOf(ev.side) + 1) % SIDES.length];
      // Both eyes closing together is the only bilateral event; one made one-sided stays an eye event.
      const changes = side === "bilateral" ? { side, region: "periocular" } : { side };
      if (ev.kind === "blink" && side !== "bilateral") changes.kind = "clonic";
      return changes;
    });
  }

  function cycleRegion() {
    edit((ev) => {
      if (ev.side !== "bilateral") return { region: REGIONS[(REGIONS.indexOf(ev.region) + 1) % REGIONS.length] };
      showSaved("A bilateral event is a closure of both eyes; change its side first.", true);
      return null;
    });
  }

  function cycleKind() {
    edit((ev) => {
      const kinds = ev.side === "bilateral" ? ["blink", "clonic", "tonic"] : ["clonic", "tonic"];
      return { kind: kinds[(kinds.indexOf(ev.kind) + 1) % kinds.length] };
    });
  }

  function nudge(end, frames) {
    edit((ev) => {
      const t = Math.round((ev[end] + frames * frame()) * 1000) / 1000;
      return { [end]: end === "onset_s" ? Math.max(0, Math.min(t, ev.offset_s)) : Math.max(t, ev.onset_s) };
    });
  }

  async function addAtCursor() {
    const onset = Math.round(cursor * 1000) / 1000;
    const added = await send(() => {
      const ev = current();
      const side = ev && ev.side !== "bilateral" ? ev.side : (state.automatic.side || "left");
      const offset = Math.round(Math.min(onset + ADDED_DURATION_S, state.duration_s) * 1000) / 1000;
      return { action: "add", changes: { onset_s: onset, offset_s: offset, side, region: "periocular" } };
    });
    if (added && added.length) { selected = added[0].id; render(); }
  }

  function zoom(factor) {
    const centre = cursor;
    view.len = Math.max(2, Math.min(state.duration_s, view.len * factor));
    view.start = Math.max(0, Math.min(centre - view.len / 2, state.duration_s - view.len));
    drawTimeline();
  }

  // ---- input ---------------------------------------------------------------------------------------------------
  document.addEventListener("keydown", (e) => {
    if (!state || e.ctrlKey || e.metaKey || e.altKey) return;
    if (e.target instanceof HTMLInputElement || e.target instanceof HTMLTextAreaElement) return;
    if (reasonsOpen) {
      const n = Number(e.key);
      if (n >= 1 && n <= state.reasons.length) { e.preventDefault(); reject(state.reasons[n - 1].id); return; }
      if (e.key === "Escape") { e.preventDefault(); closeReasons(); return; }
    }
    const actions = {
      n: () => step(1), p: () => step(-1), a: accept, r: openReasons, u: undo,
      s: cycleSide, g: cycleRegion, k: cycleKind, m: addAtCursor,
      "[": () => nudge("onset_s", -1), "]": () => nudge("onset_s", 1), "{": () => nudge("offset_s", -1), "}": () => nudge("offset_s", 1),
      "+": () => zoom(1 / 1.5), "=": () => zoom(1 / 1.5), "-": () => zoom(1.5),
      " ": () => { if (video.paused) { stopAt = null; video.play().catch(() => {}); } else video.pause(); },
      ArrowLeft: () => { video.pause(); seek(cursor - (e.shiftKey ? 1 : frame())); },
      ArrowRight: () => { video.pause(); seek(cursor + (e.shiftKey ? 1 : frame())); },
      Escape: () => { selected = null; closeReasons(); render(); },
    };
    const action = actions[e.key];
    if (action) { e.preventDefault(); action(); }
  });

  $("accept").addEventListener("click", accept);
  $("reject").addEventListener("click", openReasons);
  $("reset").addEventListener("click", undo);
  $("side").addEventListener("click", cycleSide);
  $("region").addEventListener("click", cycleRegion);
  $("kind").addEventListener("click", cycleKind);
  $("onset-earlier").addEventListener("click", () => nudge("onset_s", -1));
  $("onset-later").addEventListener("click", () => nudge("onset_s", 1));
  $("offset-earlier").addEventListener("click", () => nudge("offset_s", -1));
  $("offset-later").addEventListener("click", () => nudge("offset_s", 1));
  $("add").addEventListener("click", addAtCursor);

  document.querySelector("#events tbody").addEventListener("click", (e) => {
    const row = e.target.closest("tr[data-id]");
    if (row) jump(state.events.find((ev) => ev.id === row.dataset.id));
  });

  // The timeline: click an event to play it, click elsewhere to move the cursor, drag the ends of the selected one.
  const tracks = $("tracks");
  const timeAt = (x) => view.start + ((x - tracks.getBoundingClientRect().left) / tracks.clientWidth) * view.len;
  let drag = null;
  tracks.addEventListener("pointerdown", (e) => {
    const handle = e.target.closest(".handle");
    if (handle) {
      e.preventDefault();
      video.pause();  // playback would redraw the timeline under the pointer
      handle.setPointerCapture(e.pointerId);
      drag = { end: handle.dataset.end, bar: handle.parentElement, ev: current() };
      return;
    }
    const bar = e.target.closest(".ev");
    if (bar) { jump(state.events.find((ev) => ev.id === bar.dataset.id)); return; }
    video.pause();
    seek(timeAt(e.clientX));
  });
  tracks.addEventListener("pointermove", (e) => {
    if (!drag) return;
    const t = Math.max(0, Math.min(timeAt(e.clientX), state.duration_s));
    const on = drag.end === "onset_s" ? Math.min(t, drag.ev.offset_s) : drag.ev.onset_s;
    const off = drag.end === "offset_s" ? Math.max(t, drag.ev.onset_s) : drag.ev.offset_s;
    drag.bar.style.left = pct(on);
    drag.bar.style.width = `${(100 * Math.max(off - on, frame())) / view.len}%`;
    drag.t = drag.end === "onset_s" ? on : off;
  });
  tracks.addEventListener("pointerup", () => {
    if (!drag) return;
    const { end, t } = drag;
    drag = null;
    if (t !== undefined) edit(() => ({ [end]: Math.max(0, Math.round(t * 1000) / 1000) })); else render();
  });

  // A video still loading plays from 0 and would move the cursor back: the seek asked for waits for it.
  video.addEventListener("loadedmetadata", () => {
    if (pendingSeek !== null) video.currentTime = pendingSeek;
    pendingSeek = null;
  });
  video.addEventListener("error", () => showSaved("This browser cannot play the video; the timeline and decisions still work.", true));

  load().then(() => requestAnimationFrame(tick));
})();
