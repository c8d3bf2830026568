// The inputs: a card per part of the model (file, drop, microphone recording as WAV), what the
// user gave per part, kept across models, and the request's parts built from it. Uses the
// state and helpers of playground.js.
"use strict";

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

// ---- request parts ------------------------------------------------------------------------

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

// ---- helpers ------------------------------------------------------------------------------

function formatBytes(n) {
  return n < 1024 ? `${n} B` : n < 1048576 ? `${(n / 1024).toFixed(1)} KiB` : `${(n / 1048576).toFixed(1)} MiB`;
}
