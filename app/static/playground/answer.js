// The answer: each output drawn by its kind, the timing, the error if any, the raw JSON and
// the same request as a curl command. Uses the helpers of playground.js.
"use strict";

// ---- answer -------------------------------------------------------------------------------

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
