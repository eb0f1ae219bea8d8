// promptkiln web page: plain JS, no build step, no third-party code. Every piece of text that
// comes from the server, a model or a file is inserted with textContent (never innerHTML).
"use strict";

const $ = (id) => document.getElementById(id);
const KEY = "promptkiln.apiKey";
let sessionId = null;

function el(tag, text, cls) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  if (cls) node.className = cls;
  return node;
}

function apiKey() { return sessionStorage.getItem(KEY) || ""; }

async function api(path, options = {}) {
  const headers = Object.assign({ Authorization: "Bearer " + apiKey() }, options.headers || {});
  const response = await fetch(path, Object.assign({}, options, { headers }));
  if (!response.ok) {
    let message = response.status + " " + response.statusText;
    try {
      const body = await response.json();
      const e = body.error || body;
      message = (e.message || message) + (e.hint ? " — " + e.hint : "");
    } catch (_) { /* not JSON */ }
    throw new Error(message);
  }
  return response;
}

function showError(message) {
  $("progress-section").hidden = false;
  $("error").textContent = message;
}

// A failed job's error as the CLI shows it: the message, the failing line, the output tails.
function errorText(e) {
  let text = e.message + (e.hint ? " — " + e.hint : "");
  const at = e.failing_line;
  if (at) {
    text += "\nfailed at " + (at.line ? "line " + at.line : "the script") +
      (at.code ? " (" + at.code + ")" : "") + (at.exception ? ": " + at.exception : "");
  }
  if (e.stderr_tail) text += "\n--- script stderr (last lines) ---\n" + e.stderr_tail;
  if (e.stdout_tail) text += "\n--- script stdout (last lines) ---\n" + e.stdout_tail;
  return text;
}

function step(text) {
  const li = el("li", text);
  $("progress").appendChild(li);
  li.scrollIntoView({ block: "nearest" });
}

// The script's own stdout and stderr while it runs (the job's "output" events), capped on the
// page too: the server sends at most the log cap per stream and run.
const OUTPUT_MAX_CHARS = 200000;
function output(stream, text) {
  $("output-box").hidden = false;
  const pre = $("output");
  pre.appendChild(el("span", text, stream === "stderr" ? "stderr" : "stdout"));
  while (pre.textContent.length > OUTPUT_MAX_CHARS && pre.firstChild) pre.removeChild(pre.firstChild);
  pre.scrollTop = pre.scrollHeight;
}

function setStatus(status) {
  const s = $("status");
  s.textContent = status;
  s.className = "status " + status;
}

async function upload(file) {
  const form = new FormData();
  form.append("file", file, file.name);
  const response = await api("/v1/files", { method: "POST", body: form });
  return (await response.json()).id;
}

// Server-Sent Events over fetch (EventSource cannot send the Authorization header).
async function follow(jobId) {
  let last = 0;
  for (let tries = 0; tries < 30; tries++) {
    const headers = last ? { "Last-Event-ID": String(last) } : {};
    let response;
    try {
      response = await api("/v1/jobs/" + encodeURIComponent(jobId) + "/events", { headers });
    } catch (err) {
      await new Promise((r) => setTimeout(r, 1000));
      continue;
    }
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += value;
      let cut;
      while ((cut = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, cut);
        buffer = buffer.slice(cut + 2);
        const event = { type: "message", data: "" };
        for (const line of block.split("\n")) {
          if (line.startsWith(":")) continue;
          const i = line.indexOf(":");
          const name = i < 0 ? line : line.slice(0, i);
          const val = i < 0 ? "" : line.slice(i + 1).replace(/^ /, "");
          if (name === "id") last = Number(val) || last;
          else if (name === "event") event.type = val;
          else if (name === "data") event.data += val;
        }
        if (!event.data) continue;
        const data = JSON.parse(event.data);
        if (event.type === "progress") step(data.message);
        else if (event.type === "tokens") setStatus("running · " + data.count + " tokens");
        else if (event.type === "output") output(data.stream, data.text);
        else if (event.type === "attempt" && !data.ok) {
          step("attempt " + data.number + " problem: " + (data.problem || "failed"));
        } else if (event.type === "status") {
          setStatus(data.status);
          if (["succeeded", "failed", "cancelled", "interrupted"].includes(data.status)) return;
        }
      }
    }
  }
}

function table(rows) {
  const t = el("table");
  rows.forEach((row, i) => {
    const tr = el("tr");
    row.forEach((cell) => tr.appendChild(el(i === 0 ? "th" : "td", cell)));
    t.appendChild(tr);
  });
  return t;
}

function parseCsv(text, limit) {
  const rows = [];
  let row = [], cell = "", quoted = false;
  for (let i = 0; i < text.length && rows.length < limit; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') { cell += '"'; i++; }
      else if (c === '"') quoted = false;
      else cell += c;
    } else if (c === '"') quoted = true;
    else if (c === ",") { row.push(cell); cell = ""; }
    else if (c === "\n") { row.push(cell.replace(/\r$/, "")); rows.push(row); row = []; cell = ""; }
    else cell += c;
  }
  if ((cell || row.length) && rows.length < limit) { row.push(cell); rows.push(row); }
  return rows;
}

async function preview(file, box) {
  const type = file.media_type || "";
  const path = "/v1/files/" + encodeURIComponent(file.id);
  if (type === "image/png" || type === "image/jpeg" || type === "image/svg+xml") {
    const blob = await (await api(path + "/content")).blob();
    const img = el("img");
    img.alt = "preview of " + file.name;
    img.src = URL.createObjectURL(new Blob([blob], { type }));
    box.appendChild(img);
  } else if (type.startsWith("text/csv")) {
    const text = await (await api(path + "/content")).text();
    box.appendChild(table(parseCsv(text.slice(0, 200000), 21)));
  } else if (type === "application/pdf") {
    const blob = await (await api(path + "/preview")).blob();
    const img = el("img");
    img.alt = "first page of " + file.name;
    img.src = URL.createObjectURL(blob);
    box.appendChild(img);
  } else if (type.includes("spreadsheetml")) {
    const data = await (await api(path + "/preview")).json();
    box.appendChild(table(data.rows));
  }
}

async function download(file) {
  const blob = await (await api("/v1/files/" + encodeURIComponent(file.id) + "/content")).blob();
  const a = el("a");
  a.href = URL.createObjectURL(blob);
  a.download = file.name;
  document.body.appendChild(a);
  a.click();
  a.remove();
}

function showFiles(files) {
  const box = $("files");
  box.replaceChildren();
  $("files-section").hidden = false;
  if (!files.length) box.appendChild(el("p", "No files.", "muted"));
  for (const file of files) {
    const div = el("div", null, "file");
    div.appendChild(el("h3", file.name + " (" + file.media_type + ", " + file.size.toLocaleString() + " bytes)"));
    const button = el("button", "Download " + file.name);
    button.type = "button";
    button.addEventListener("click", () => download(file).catch((e) => showError(e.message)));
    const p = el("div", null, "preview");
    div.append(p, button);
    box.appendChild(div);
    preview(file, p).catch((e) => p.appendChild(el("p", "no preview: " + e.message, "muted")));
  }
}

async function showSession(id) {
  sessionId = id;
  const s = await (await api("/v1/sessions/" + encodeURIComponent(id))).json();
  $("session-section").hidden = false;
  $("session-id").textContent = s.id + (s.title ? " — " + s.title : "");
  const list = $("history");
  list.replaceChildren();
  for (const t of s.turns || []) {
    const li = el("li", "turn " + t.number + " [" + t.status + "] " + (t.prompt || ""));
    if (t.problem) li.appendChild(el("div", t.problem, "error"));
    list.appendChild(li);
  }
  for (const f of s.files || []) list.appendChild(el("li", f.name + " v" + f.version + " (turn " + f.turn + ")", "muted"));
}

async function runJob(start, button) {
  if (!apiKey()) { showError("enter an API key first (promptkiln keys create --tenant NAME)"); return; }
  button.disabled = true;
  $("progress").replaceChildren();
  $("output").replaceChildren();
  $("output-box").hidden = true;
  $("error").textContent = "";
  $("progress-section").hidden = false;
  setStatus("queued");
  try {
    const job = await start();
    await follow(job.id);
    const done = await (await api("/v1/jobs/" + encodeURIComponent(job.id))).json();
    setStatus(done.status);
    if (done.error) showError(errorText(done.error));
    showFiles(done.files || []);
    if (done.session_id) await showSession(done.session_id);
  } catch (e) {
    showError(e.message);
  } finally {
    button.disabled = false;
  }
}

function formats() {
  return Array.from(document.querySelectorAll("input[name=format]:checked")).map((i) => i.value);
}

document.addEventListener("DOMContentLoaded", () => {
  $("api-key").value = apiKey();
  $("key-state").textContent = apiKey() ? "key set for this tab" : "";
  $("key-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    sessionStorage.setItem(KEY, $("api-key").value.trim());
    $("key-state").textContent = "key set for this tab";
  });
  $("make-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    runJob(async () => {
      const inputs = [];
      for (const f of $("inputs").files) inputs.push(await upload(f));
      const body = { prompt: $("prompt").value, formats: formats(), inputs };
      return (await api("/v1/jobs", {
        method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
      })).json();
    }, $("make-button"));
  });
  $("continue-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    runJob(async () => {
      const body = { prompt: $("continue-prompt").value, formats: formats() };
      return (await api("/v1/sessions/" + encodeURIComponent(sessionId) + "/turns", {
        method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
      })).json();
    }, $("continue-button"));
  });
  $("e2b-refresh").addEventListener("click", () => showSandboxes().catch((e) => showError(e.message)));
  if (apiKey()) showSandboxes().catch(() => {});
});

// The tenant's live E2B sandboxes (promptkiln serve speaks the E2B protocol).
async function showSandboxes() {
  const list = $("e2b-sandboxes");
  const body = await (await api("/v1/e2b/sandboxes")).json();
  list.replaceChildren();
  if (!body.data.length) list.append(el("li", "no live sandboxes"));
  for (const s of body.data) {
    const ends = new Date(s.end_at * 1000).toLocaleTimeString();
    list.append(el("li", s.id + " — " + s.template + " — ends " + ends));
  }
}
