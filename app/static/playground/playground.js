// The playground: reads the model's parts from GET /v1/models/{name}, shows a field per part,
// sends what the user gives as multipart to POST /v1/models/{name}/predict (one field per part,
// named by it), and draws the answer by each output's kind. No libraries, no build.
"use strict";

const KEY_STORAGE = "mms-api-key";
const RETRY_MS = 1000;

const $ = (id) => document.getElementById(id);
// texts and uploads ({blob, name}) by part name: what the user gave stays when the model changes.
const state = {
  model: null,
  parts: [],
  fields: new Map(),  // text part name -> its field on the page
  texts: new Map(),
  uploads: new Map(),
  recorder: null,
};

function apiHeaders() {
  const key = sessionStorage.getItem(KEY_STORAGE);
  return key ? { "X-API-Key": key } : {};
}

function setStatus(text, kind = "") {
  $("status").textContent = text;
  $("status").className = `status ${kind}`;
}

async function getJson(path) {
  const resp = await fetch(path, { headers: apiHeaders() });
  const body = await resp.json().catch(() => ({}));
  return { resp, body };
}

// ---- models -------------------------------------------------------------------------------

async function loadModels() {
  const { resp, body } = await getJson("/v1/models");
  if (resp.status === 401) {
    $("auth").open = true;
    setStatus("This service needs an API key: enter it above.", "warn");
    return;
  }
  if (resp.status === 503) {  // models still loading: the service says when to come back
    setStatus("Models are loading…");
    setTimeout(loadModels, RETRY_MS);
    return;
  }
  if (!resp.ok) {
    setStatus(errorText(body, resp.status), "bad");
    return;
  }
  const select = $("model");
  select.replaceChildren(...body.models.map((m) => new Option(m.name, m.name)));
  select.value = body.default_model || body.models[0]?.name;
  setStatus("");
  await loadModel(select.value);
}

async function loadModel(name) {
  const { resp, body } = await getJson(`/v1/models/${encodeURIComponent(name)}`);
  if (!resp.ok) {
    setStatus(errorText(body, resp.status), "bad");
    return;
  }
  if (state.recorder) state.recorder.stop();
  for (const [part, field] of state.fields) state.texts.set(part, field.value);
  state.fields.clear();
  state.model = body;
  state.parts = body.parts;
  $("parts").replaceChildren(...body.parts.map(partCard));
  const outputs = body.outputs.map((o) => `${o.name} (${o.kind})`).join(", ");
  const takes = body.parts.map((p) => (p.name === p.modality ? p.name : `${p.name} (${p.modality})`));
  $("model-info").textContent =
    `${body.name} v${body.served_version} on ${body.device} · ${body.description || ""}` +
    ` · takes ${takes.join(", ")} · gives ${outputs}`;
}

// ---- inputs -------------------------------------------------------------------------------

function partCard(part) {
  // A part named after its modality (every part of a one-input-per-modality model) keeps the
  // ids the page has always had: #image, #audio, #text, #record, ...
  const legacy = part.name === part.modality;
  const card = $(`${part.modality}-part`).content.firstElementChild.cloneNode(true);
  card.dataset.part = part.name;
  const title = card.querySelector(".part-name");
  title.textContent = legacy ? part.name[0].toUpperCase() + part.name.slice(1) : part.name;
  card.querySelector(".modality").textContent = part.modality;
  card.querySelector(".modality").hidden = legacy;
  card.querySelector(".badge").hidden = !part.required;
  const field = card.querySelector("input");
  field.name = part.name;
  field.setAttribute("aria-label", part.name);
  if (legacy) field.id = part.name;
  if (part.modality === "text") {
    field.value = state.texts.get(part.name) || "";
    state.fields.set(part.name, field);
    return card;
  }
  if (legacy) {
    card.querySelector(".preview").id = `${part.name}-preview`;
    card.querySelector(".file-name").id = `${part.name}-name`;
  }
  field.addEventListener("change", (e) => setUpload(card, e.target.files[0]));
  if (part.modality === "image") {
    if (legacy) card.querySelector(".drop").id = `${part.name}-drop`;
    wireDrop(card);
  } else {
    const record = card.querySelector(".record");
    if (legacy) record.id = "record";
    record.addEventListener("click", () => toggleRecording(card));
  }
  const upload = uploadFor(part);
  if (upload) showUpload(card, upload);
  return card;
}

function setUpload(card, blob, name = blob?.name) {
  if (!blob) return;
  const old = state.uploads.get(card.dataset.part);
  if (old) URL.revokeObjectURL(old.url);
  const upload = { blob, name, modality: card.dataset.modality, url: URL.createObjectURL(blob) };
  state.uploads.set(card.dataset.part, upload);
  showUpload(card, upload);
}

function uploadFor(part) {
  // Another model's part of the same name may be of another modality: that file is not for it.
  const upload = state.uploads.get(part.name);
  return upload?.modality === part.modality ? upload : null;
}

function showUpload(card, { blob, name, url }) {
  const preview = card.querySelector(".preview");
  preview.src = url;
  preview.hidden = false;
  card.querySelector(".drop")?.classList.add("filled");
  card.querySelector(".file-name").textContent = `${name} · ${formatBytes(blob.size)}`;
}

function wireDrop(card) {
  const drop = card.querySelector(".drop");
  for (const type of ["dragenter", "dragover"]) {
    drop.addEventListener(type, (e) => {
      e.preventDefault();
      drop.classList.add("over");
    });
  }
  for (const type of ["dragleave", "drop"]) {
    drop.addEventListener(type, () => drop.classList.remove("over"));
  }
  drop.addEventListener("drop", (e) => {
    e.preventDefault();
    setUpload(card, e.dataTransfer.files[0]);
  });
}

// ---- recording ----------------------------------------------------------------------------

async function toggleRecording(card) {
  // One microphone, one recording at a time: any record button stops the one under way.
  if (state.recorder) {
    state.recorder.stop();
    return;
  }
  const button = card.querySelector(".record");
  if (!navigator.mediaDevices?.getUserMedia) {
    setStatus("Recording needs a secure page (https or localhost).", "warn");
    return;
  }
  let stream;
  try {
    stream = await navigator.mediaDevices.getUserMedia({ audio: true });
  } catch (err) {
    setStatus(`No microphone: ${err.message}`, "warn");
    return;
  }
  const chunks = [];
  const recorder = new MediaRecorder(stream);
  recorder.ondataavailable = (e) => chunks.push(e.data);
  recorder.onstop = async () => {
    stream.getTracks().forEach((t) => t.stop());
    state.recorder = null;
    button.textContent = "● Record";
    button.classList.remove("recording");
    try {
      // Browsers record WebM/Opus or OGG/Opus, which the service does not take: decode it here
      // and send 16-bit PCM WAV, which every bundle's audio preprocessor reads.
      const recorded = new Blob(chunks, { type: recorder.mimeType });
      const ctx = new AudioContext();
      const buffer = await ctx.decodeAudioData(await recorded.arrayBuffer());
      await ctx.close();
      setUpload(card, encodeWav(buffer), "recording.wav");
    } catch (err) {
      setStatus(`Could not convert the recording: ${err.message}`, "bad");
    }
  };
  recorder.start();
  state.recorder = recorder;
  button.textContent = "■ Stop";
  button.classList.add("recording");
}

function encodeWav(buffer) {
  // Mono mix-down at the recording's own rate; the service resamples to what the model wants.
  const n = buffer.length;
  const mono = new Float32Array(n);
  for (let c = 0; c < buffer.numberOfChannels; c++) {
    const data = buffer.getChannelData(c);
    for (let i = 0; i < n; i++) mono[i] += data[i] / buffer.numberOfChannels;
  }
  const view = new DataView(new ArrayBuffer(44 + 2 * n));
  const text = (offset, s) => [...s].forEach((ch, i) => view.setUint8(offset + i, ch.charCodeAt(0)));
  text(0, "RIFF");
  view.setUint32(4, 36 + 2 * n, true);
  text(8, "WAVE");
  text(12, "fmt ");
  view.setUint32(16, 16, true);
  view.setUint16(20, 1, true);  // PCM
  view.setUint16(22, 1, true);  // mono
  view.setUint32(24, buffer.sampleRate, true);
  view.setUint32(28, buffer.sampleRate * 2, true);
  view.setUint16(32, 2, true);
  view.setUint16(34, 16, true);
  text(36, "data");
  view.setUint32(40, 2 * n, true);
  for (let i = 0; i < n; i++) {
    const s = Math.max(-1, Math.min(1, mono[i]));
    view.setInt16(44 + 2 * i, s < 0 ? s * 0x8000 : s * 0x7fff, true);
  }
  return new Blob([view], { type: "audio/wav" });
}

// ---- predict ------------------------------------------------------------------------------

function requestParts() {
  // The model's parts in its order, each under its own name; an empty one is left out (missing).
  const parts = [];
  for (const part of state.parts) {
    if (part.modality === "text") {
      const text = state.fields.get(part.name).value;
      if (text.trim()) parts.push([part.name, text]);
    } else if (uploadFor(part)) {
      const { blob, name } = uploadFor(part);
      parts.push([part.name, blob, name]);
    }
  }
  return parts;
}

async function predict(event) {
  event.preventDefault();
  if (!state.model) return;
  const model = state.model;
  const parts = requestParts();
  const topK = Math.max(1, parseInt($("top-k").value, 10) || 5);
  const path = `/v1/models/${encodeURIComponent(model.name)}/predict?top_k=${topK}`;
  const form = new FormData();
  for (const [name, value, fileName] of parts) {
    if (fileName) form.append(name, value, fileName);
    else form.append(name, value);
  }
  $("submit").disabled = true;
  setStatus("Predicting…");
  const started = performance.now();
  try {
    const resp = await fetch(path, { method: "POST", body: form, headers: apiHeaders() });
    const body = await resp.json().catch(() => ({}));
    const roundTrip = performance.now() - started;
    showResult(model, resp, body, parts, path, roundTrip);
    setStatus("");
  } catch (err) {
    setStatus(`The request failed: ${err.message}`, "bad");
  } finally {
    $("submit").disabled = false;
  }
}

function showResult(model, resp, body, parts, path, roundTrip) {
  $("result").hidden = false;
  $("raw").textContent = JSON.stringify(body, null, 2);
  $("curl").textContent = curlCommand(parts, path);
  const error = $("error");
  error.hidden = resp.ok;
  if (!resp.ok) {
    error.textContent = `${resp.status} · ${errorText(body, resp.status)}`;
    $("outputs").replaceChildren();
    $("timing").replaceChildren();
    return;
  }
  const specs = Object.fromEntries(model.outputs.map((o) => [o.name, o]));
  const chips = document.createElement("p");
  chips.className = "chips";
  for (const [part, how] of Object.entries(body.modalities || {})) {
    const chip = document.createElement("span");
    chip.className = `chip ${how}`;
    chip.textContent = `${part}: ${how}`;
    chips.append(chip, " ");
  }
  $("outputs").replaceChildren(
    chips,
    ...Object.entries(body.outputs).map(([n, v]) => outputView(n, v, specs[n])),
  );
  $("timing").replaceChildren(timingView(body.timing_ms || {}, roundTrip));
}

function outputView(name, value, spec) {
  const box = document.createElement("div");
  box.className = "output";
  box.dataset.output = name;
  const title = document.createElement("h3");
  title.textContent = name;
  box.append(title);
  const kind = spec?.kind || guessKind(value);
  box.dataset.kind = kind;
  if (kind === "classification") {
    box.append(...value.map((item, i) => barRow(item, i === 0 ? "top" : "")));
  } else if (kind === "multilabel") {
    const threshold = spec?.threshold ?? 0.5;
    if (value.length === 0) {
      box.append(hint(`no label at or above the threshold (${threshold})`, "empty"));
    } else {
      box.append(...value.map((item) => barRow(item, "on")));
      box.append(hint(`every label at or above the threshold (${threshold}), best first`));
    }
  } else if (kind === "regression") {
    // A list, or {name: value} when the bundle names the values.
    const named = Array.isArray(value) ? value.map((v, i) => [`[${i}]`, v]) : Object.entries(value);
    box.append(...named.map(([n, v]) => valueRow(n, v)));
  } else {
    const pre = document.createElement("pre");
    pre.className = "code";
    pre.textContent = `embedding (${value.length}): [${value.slice(0, 8).join(", ")}${value.length > 8 ? ", …" : ""}]`;
    box.append(pre);
  }
  return box;
}

function guessKind(value) {
  // Only for an output the metadata does not list (it always should): tell it by its shape.
  if (!Array.isArray(value)) return "regression";
  return typeof value[0] === "object" ? "classification" : "embedding";
}

function barRow({ label, score }, kind) {
  const row = document.createElement("div");
  row.className = `bar-row${kind ? ` ${kind}` : ""}`;
  row.innerHTML = '<span class="label"></span><span class="bar"><span class="fill"></span></span><span class="score"></span>';
  row.querySelector(".label").textContent = label;
  row.querySelector(".fill").style.width = `${Math.max(0.5, score * 100)}%`;
  row.querySelector(".score").textContent = score.toFixed(3);
  return row;
}

function valueRow(name, value) {
  const row = document.createElement("div");
  row.className = "value-row";
  row.innerHTML = '<span class="name"></span><span class="value"></span>';
  row.querySelector(".name").textContent = name;
  // Six significant digits on the page; the raw answer below has every digit.
  row.querySelector(".value").textContent = String(Number(value.toPrecision(6)));
  return row;
}

function hint(text, extra = "") {
  const p = document.createElement("p");
  p.className = `hint${extra ? ` ${extra}` : ""}`;
  p.textContent = text;
  return p;
}

function timingView(timing, roundTrip) {
  const stages = ["preprocess", "queue", "inference"];
  const total = timing.total || stages.reduce((a, s) => a + (timing[s] || 0), 0) || 1;
  const table = document.createElement("div");
  const stack = document.createElement("div");
  stack.className = "stack";
  for (const stage of stages) {
    const seg = document.createElement("span");
    seg.className = `seg ${stage}`;
    seg.style.width = `${(100 * (timing[stage] || 0)) / total}%`;
    seg.title = `${stage} ${timing[stage]} ms`;
    stack.append(seg);
  }
  table.append(stack);
  const legend = document.createElement("p");
  legend.className = "legend";
  legend.innerHTML = [...stages, "total"]
    .map((s) => `<span class="item"><span class="key ${s}"></span>${s} <b>${(timing[s] ?? 0).toFixed(1)} ms</b></span>`)
    .join(" ") + ` <span class="item">· round trip in the browser <b>${roundTrip.toFixed(0)} ms</b></span>`;
  table.append(legend);
  return table;
}

// ---- curl ---------------------------------------------------------------------------------

function shellQuote(s) {
  return `'${String(s).replace(/'/g, "'\\''")}'`;
}

function curlCommand(parts, path) {
  const lines = ["curl -s"];
  const key = sessionStorage.getItem(KEY_STORAGE);
  if (key) lines.push(`-H ${shellQuote(`X-API-Key: ${key}`)}`);
  for (const [name, value, fileName] of parts) {
    // --form-string keeps a text starting with @ or < from being read as a file by curl.
    if (fileName) lines.push(`-F ${shellQuote(`${name}=@${fileName}`)}`);
    else lines.push(`--form-string ${shellQuote(`${name}=${value}`)}`);
  }
  lines.push(shellQuote(`${location.origin}${path}`));
  return lines.join(" \\\n     ");
}

// ---- helpers ------------------------------------------------------------------------------

function errorText(body, status) {
  return body?.error ? `${body.error.code}: ${body.error.message}` : `HTTP ${status}`;
}

function formatBytes(n) {
  return n < 1024 ? `${n} B` : n < 1048576 ? `${(n / 1024).toFixed(1)} KiB` : `${(n / 1048576).toFixed(1)} MiB`;
}

function init() {
  const keyField = $("api-key");
  keyField.value = sessionStorage.getItem(KEY_STORAGE) || "";
  keyField.addEventListener("change", () => {
    const key = keyField.value.trim();
    if (key) sessionStorage.setItem(KEY_STORAGE, key);
    else sessionStorage.removeItem(KEY_STORAGE);
    loadModels();
  });
  $("model").addEventListener("change", (e) => loadModel(e.target.value));
  $("form").addEventListener("submit", predict);
  $("copy").addEventListener("click", () => navigator.clipboard?.writeText($("curl").textContent));
  loadModels();
}

document.addEventListener("DOMContentLoaded", init);
