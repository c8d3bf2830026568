// The playground: reads the model's inputs from GET /v1/models/{name}, sends what the user gives
// as multipart to POST /v1/models/{name}/predict, and draws the answer. No libraries, no build.
"use strict";

const KEY_STORAGE = "mms-api-key";
const RETRY_MS = 1000;
const MODALITIES = ["image", "audio", "text"];

const $ = (id) => document.getElementById(id);
const state = { model: null, inputs: [], image: null, audio: null, recorder: null };

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
  state.model = body;
  state.inputs = body.inputs;
  const byModality = Object.fromEntries(body.inputs.map((i) => [i.modality, i]));
  for (const section of document.querySelectorAll("section[data-modality]")) {
    const input = byModality[section.dataset.modality];
    section.hidden = !input;
    section.querySelector(".badge").hidden = !(input && input.required);
  }
  const outputs = body.outputs.map((o) => `${o.name} (${o.kind})`).join(", ");
  $("model-info").textContent =
    `${body.name} v${body.served_version} on ${body.device} · ${body.description || ""}` +
    ` · takes ${body.inputs.map((i) => i.modality).join(", ")} · gives ${outputs}`;
}

// ---- inputs -------------------------------------------------------------------------------

function setImage(file) {
  if (!file) return;
  state.image = file;
  const img = $("image-preview");
  if (img.src) URL.revokeObjectURL(img.src);
  img.src = URL.createObjectURL(file);
  img.hidden = false;
  $("image-drop").classList.add("filled");
  $("image-name").textContent = `${file.name} · ${formatBytes(file.size)}`;
}

function setAudio(blob, name) {
  state.audio = { blob, name };
  const player = $("audio-preview");
  if (player.src) URL.revokeObjectURL(player.src);
  player.src = URL.createObjectURL(blob);
  player.hidden = false;
  $("audio-name").textContent = `${name} · ${formatBytes(blob.size)}`;
}

function wireImageDrop() {
  const drop = $("image-drop");
  $("image").addEventListener("change", (e) => setImage(e.target.files[0]));
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
    setImage(e.dataTransfer.files[0]);
  });
}

// ---- recording ----------------------------------------------------------------------------

async function toggleRecording() {
  const button = $("record");
  if (state.recorder) {
    state.recorder.stop();
    return;
  }
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
      setAudio(encodeWav(buffer), "recording.wav");
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
  const taken = new Set(state.inputs.map((i) => i.modality));
  const parts = [];
  if (taken.has("image") && state.image) parts.push(["image", state.image, state.image.name]);
  if (taken.has("audio") && state.audio) parts.push(["audio", state.audio.blob, state.audio.name]);
  const text = $("text").value;
  if (taken.has("text") && text.trim()) parts.push(["text", text]);
  return parts;
}

async function predict(event) {
  event.preventDefault();
  if (!state.model) return;
  const parts = requestParts();
  const topK = Math.max(1, parseInt($("top-k").value, 10) || 5);
  const path = `/v1/models/${encodeURIComponent(state.model.name)}/predict?top_k=${topK}`;
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
    showResult(resp, body, parts, path, roundTrip);
    setStatus("");
  } catch (err) {
    setStatus(`The request failed: ${err.message}`, "bad");
  } finally {
    $("submit").disabled = false;
  }
}

function showResult(resp, body, parts, path, roundTrip) {
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
  $("outputs").replaceChildren(...Object.entries(body.outputs).map(([n, v]) => outputView(n, v)));
  const provided = Object.entries(body.modalities || {})
    .map(([m, how]) => `<span class="chip ${how}">${m}: ${how}</span>`)
    .join(" ");
  $("outputs").insertAdjacentHTML("afterbegin", `<p class="chips">${provided}</p>`);
  $("timing").replaceChildren(timingView(body.timing_ms || {}, roundTrip));
}

function outputView(name, value) {
  const box = document.createElement("div");
  box.className = "output";
  const title = document.createElement("h3");
  title.textContent = name;
  box.append(title);
  if (!Array.isArray(value) || typeof value[0] !== "object") {
    const pre = document.createElement("pre");
    pre.className = "code";
    pre.textContent = `embedding (${value.length}): [${value.slice(0, 8).join(", ")}${value.length > 8 ? ", …" : ""}]`;
    box.append(pre);
    return box;
  }
  value.forEach(({ label, score }, i) => {
    const row = document.createElement("div");
    row.className = `bar-row${i === 0 ? " top" : ""}`;
    row.innerHTML = '<span class="label"></span><span class="bar"><span class="fill"></span></span><span class="score"></span>';
    row.querySelector(".label").textContent = label;
    row.querySelector(".fill").style.width = `${Math.max(0.5, score * 100)}%`;
    row.querySelector(".score").textContent = score.toFixed(3);
    box.append(row);
  });
  return box;
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
  $("audio").addEventListener("change", (e) => {
    const file = e.target.files[0];
    if (file) setAudio(file, file.name);
  });
  $("record").addEventListener("click", toggleRecording);
  $("form").addEventListener("submit", predict);
  $("copy").addEventListener("click", () => navigator.clipboard?.writeText($("curl").textContent));
  wireImageDrop();
  for (const m of MODALITIES) document.querySelector(`section[data-modality=${m}]`).hidden = true;
  loadModels();
}

document.addEventListener("DOMContentLoaded", init);
