// The demo page: plain JavaScript, no build step. It talks only to the server that served it.
"use strict";

const $ = (id) => document.getElementById(id);
let state = null;
// What each input is: {file: File} or {example: id}; the server looks examples up by id.
const picks = { transfer: { image: null, video: null }, samples: { image: null } };

async function api(path, form) {
  let response;
  try {
    response = await fetch(path, form ? { method: "POST", body: form } : {});
  } catch (err) {
    throw new Error(`the server did not answer (${err.message}); an upload over ${limitText()} is refused`);
  }
  let body = null;
  try { body = await response.json(); } catch (err) { body = null; }
  if (!response.ok) throw new Error(body && body.error ? body.error : `the server answered ${response.status}`);
  return body;
}

function limitText() {
  return state ? `${(state.limits.max_upload_bytes / 2 ** 20).toFixed(0)} MiB` : "the limit";
}

function showError(tab, message) {
  const box = $(`${tab}-error`);
  box.textContent = message || "";
  box.hidden = !message;
}

function busy(tab, on) {
  document.querySelectorAll(`#tab-${tab} button`).forEach((b) => { b.disabled = on; });
  if (!on) $(`${tab}-progress`).hidden = true;
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// Poll a job until it ends, showing its progress; a failed job's message is thrown.
async function finish(job, tab) {
  const box = $(`${tab}-progress`);
  const bar = box.querySelector("progress");
  const text = box.querySelector("span");
  box.hidden = false;
  for (;;) {
    if (job.status === "done") return job;
    if (job.status === "failed") throw new Error(job.error);
    if (job.total > 0) { bar.max = job.total; bar.value = job.done; } else { bar.removeAttribute("value"); }
    text.textContent = job.status === "queued" ? "waiting for the job before it…" : `rendering ${job.done}/${job.total || "?"}`;
    await sleep(250);
    job = await api(`/api/jobs/${job.id}`);
  }
}

function fileUrl(job, name) { return `/api/jobs/${job.id}/files/${name}`; }

function checkSize(form) {
  let total = 0;
  for (const value of form.values()) if (value instanceof File) total += value.size;
  if (state && total > state.limits.max_upload_bytes) {
    throw new Error(`the upload is ${(total / 2 ** 20).toFixed(1)} MiB; this server takes at most ${limitText()} per request`);
  }
}

function addInput(form, tab, kind) {
  const pick = picks[tab][kind];
  if (!pick) throw new Error(`choose ${kind === "image" ? "an image" : "a video"}: upload one or pick an example`);
  if (pick.file) form.append(kind, pick.file, pick.file.name);
  else form.append(`${kind}_example`, pick.example);
}

// -- inputs ------------------------------------------------------------------------------

function preview(tab, kind, url) {
  const el = $(`${tab}-${kind}-preview`);
  el.src = url;
  el.hidden = false;
}

function choose(tab, kind, pick, url) {
  picks[tab][kind] = pick;
  document.querySelectorAll(`.picks[data-tab=${tab}][data-kind=${kind}] button`).forEach((b) => {
    b.classList.toggle("chosen", b.dataset.example === pick.example);
  });
  if (pick.example) $(`${tab}-${kind}`).value = "";
  preview(tab, kind, url);
}

function watchFile(tab, kind) {
  $(`${tab}-${kind}`).addEventListener("change", (event) => {
    const file = event.target.files[0];
    if (file) choose(tab, kind, { file }, URL.createObjectURL(file));
  });
}

function exampleButtons() {
  document.querySelectorAll(".picks").forEach((box) => {
    box.replaceChildren();
    for (const ex of state.examples.filter((e) => e.kind === box.dataset.kind)) {
      const b = document.createElement("button");
      b.type = "button";
      b.textContent = ex.title;
      b.dataset.example = ex.id;
      b.addEventListener("click", () => choose(box.dataset.tab, ex.kind, { example: ex.id }, `/api/examples/${ex.id}`));
      box.append(b);
    }
  });
  const list = $("examples-list");
  list.replaceChildren();
  for (const ex of state.examples) {
    const card = document.createElement("div");
    card.className = "example";
    const media = document.createElement(ex.kind === "image" ? "img" : "video");
    Object.assign(media, { className: "frame", src: `/api/examples/${ex.id}`, muted: true, loop: true, autoplay: true });
    const title = document.createElement("p");
    title.textContent = ex.title;
    card.append(media, title);
    const uses = ex.kind === "image" ? [["transfer", "as target"], ["samples", "for samples"]] : [["transfer", "as source"]];
    for (const [tab, label] of uses) {
      const b = document.createElement("button");
      b.type = "button";
      b.textContent = label;
      b.addEventListener("click", () => { choose(tab, ex.kind, { example: ex.id }, `/api/examples/${ex.id}`); openTab(tab); });
      card.append(b);
    }
    list.append(card);
  }
}

// -- transfer ----------------------------------------------------------------------------

async function transfer() {
  showError("transfer", "");
  busy("transfer", true);
  try {
    const form = new FormData();
    addInput(form, "transfer", "image");
    addInput(form, "transfer", "video");
    form.append("motion", $("transfer-motion").value);
    if ($("transfer-best-frame").checked) form.append("best_frame", "on");
    if ($("transfer-crop").checked) form.append("crop", "on");
    form.append("start", $("transfer-start").value);
    form.append("frames", $("transfer-frames").value);
    checkSize(form);
    const job = await finish(await api("/api/transfer", form), "transfer");
    const r = job.result;
    const video = $("transfer-result");
    const gif = $("transfer-result-gif");
    gif.hidden = true;
    video.onerror = () => { video.hidden = true; gif.src = fileUrl(job, "transfer.gif"); gif.hidden = false; };
    video.src = fileUrl(job, "transfer.mp4");
    video.hidden = false;
    $("download-mp4").href = fileUrl(job, "transfer.mp4");
    $("download-gif").href = fileUrl(job, "transfer.gif");
    $("transfer-downloads").hidden = false;
    $("transfer-result-info").textContent = `${r.frames} frames, ${r.width}×${r.height}, ${r.fps.toFixed(3).replace(/\.?0+$/, "")} fps`;
    const notes = $("transfer-notes");
    notes.replaceChildren(...job.notes.map((n) => Object.assign(document.createElement("li"), { textContent: n })));
  } catch (err) {
    showError("transfer", err.message);
  } finally {
    busy("transfer", false);
  }
}

// -- samples -----------------------------------------------------------------------------

async function samples(nextSeed) {
  showError("samples", "");
  const seedBox = $("samples-seed");
  if (nextSeed) seedBox.value = String(Number(seedBox.value || 0) + 1);
  busy("samples", true);
  try {
    const form = new FormData();
    addInput(form, "samples", "image");
    form.append("k", $("samples-k").value);
    form.append("seed", seedBox.value);
    checkSize(form);
    const job = await finish(await api("/api/samples", form), "samples");
    const grid = $("samples-grid");
    grid.replaceChildren(...job.files.map((name) => Object.assign(document.createElement("img"), {
      className: "frame", src: fileUrl(job, name), alt: `sample, seed ${job.result.seed}`,
    })));
    grid.dataset.seed = job.result.seed;
  } catch (err) {
    showError("samples", err.message);
  } finally {
    busy("samples", false);
  }
}

// -- model -------------------------------------------------------------------------------

function showModel() {
  const m = state.model;
  $("model-line").textContent = `${m.name} · step ${m.step ?? "?"} · ${m.recipe ?? "recipe not recorded"} · ${m.width}×${m.height}, ${m.frames} frames`;
  const rows = [["Run", m.name], ["Step", m.step ?? "?"], ["Recipe", m.recipe ?? "not recorded"], ["Model", m.type],
    ["Frame size", `${m.width}×${m.height}, ${m.channels} channels`], ["Clip length", `${m.frames} frames`],
    ["Transfer", m.can_transfer ? "yes" : "no: this model cannot transfer"], ["Samples", m.can_sample ? "yes" : "no"]];
  $("model-info").replaceChildren(...rows.flatMap(([k, v]) => [
    Object.assign(document.createElement("dt"), { textContent: k }),
    Object.assign(document.createElement("dd"), { textContent: String(v) }),
  ]));
  $("model-runs").replaceChildren(...state.runs.map((r) => Object.assign(document.createElement("option"), {
    value: r.id, textContent: `${r.name} (step ${r.step ?? "?"}, ${r.width}×${r.height})`, selected: r.id === m.id,
  })));
  $("limits").textContent = `Uploads: at most ${limitText()} per request. Samples: at most ${state.limits.max_samples} at once.`;
}

async function refresh() {
  state = await api("/api/state");
  showModel();
}

async function switchRun() {
  showError("model", "");
  busy("model", true);
  try {
    const form = new FormData();
    form.append("run", $("model-runs").value);
    await finish(await api("/api/model", form), "model");
    await refresh();
  } catch (err) {
    showError("model", err.message);
  } finally {
    busy("model", false);
  }
}

// -- tabs and start-up -------------------------------------------------------------------

function openTab(name) {
  document.querySelectorAll("nav button").forEach((b) => b.classList.toggle("active", b.dataset.tab === name));
  document.querySelectorAll("main > section").forEach((s) => { s.hidden = s.id !== `tab-${name}`; });
}

async function start() {
  document.querySelectorAll("nav button").forEach((b) => b.addEventListener("click", () => openTab(b.dataset.tab)));
  watchFile("transfer", "image");
  watchFile("transfer", "video");
  watchFile("samples", "image");
  $("transfer-run").addEventListener("click", transfer);
  $("samples-run").addEventListener("click", () => samples(false));
  $("samples-more").addEventListener("click", () => samples(true));
  $("model-switch").addEventListener("click", switchRun);
  try {
    await refresh();
  } catch (err) {
    $("model-line").textContent = `cannot reach the server: ${err.message}`;
    return;
  }
  $("transfer-motion").replaceChildren(...state.motion_modes.map((m) => Object.assign(document.createElement("option"), { value: m, textContent: m })));
  exampleButtons();
  document.body.dataset.ready = "true";
}

start();
