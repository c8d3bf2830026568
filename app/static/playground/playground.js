// The playground page: the state it shares, talking to the API (GET /v1/models and
// /v1/models/{name} for the model's parts, POST /v1/models/{name}/predict as multipart, one
// field per part, named by it) and wiring the page. Loaded first; parts.js draws a card per part
// and answer.js the answer, as plain scripts sharing this page's globals. No libraries, no build.
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

// ---- predict ------------------------------------------------------------------------------

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

// ---- helpers ------------------------------------------------------------------------------

function errorText(body, status) {
  return body?.error ? `${body.error.code}: ${body.error.message}` : `HTTP ${status}`;
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
