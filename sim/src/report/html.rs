//! The failure explorer: one self-contained HTML page per failure (no network, no external
//! scripts, styles or fonts), with one lane per task, a step control over the whole trace, the
//! state of every task at the current step (what it holds, what it waits on), the faults and
//! the broken invariant marked, a legend for every colour, and the complete replay command.
//!
//! The trace goes into the page as JSON and the page's script draws it, so a 20,000-step
//! trace costs one canvas and a table of the events around the current step, not 20,000
//! elements. Opening the page with `#selftest` makes the script drive its own controls and
//! write what it saw into `<pre id="selftest">`; the browser test reads that back.

use std::fmt::Write as _;

use super::xml_escape;
use crate::harness::{ScenarioRun, expect_label};
use crate::trace::MarkKind;

/// Lane colours by task kind; the same palette as the SVG timeline.
const PALETTE: [(&str, &str, &str); 5] = [
    ("main", "#2ca02c", "main task"),
    ("task", "#1f77b4", "scenario task"),
    ("listener", "#9467bd", "link listener"),
    ("runner", "#7f7f7f", "substrate runner"),
    ("fault", "#d62728", "fault task"),
];

fn lane_kind(name: &str) -> &'static str {
    if name.starts_with("fault:") {
        "fault"
    } else if name.starts_with("aion-worker-link-listener") {
        "listener"
    } else if name.ends_with("-runner") {
        "runner"
    } else if name == "main" {
        "main"
    } else {
        "task"
    }
}

fn kind_code(kind: MarkKind) -> &'static str {
    match kind {
        MarkKind::Run => "run",
        MarkKind::Start => "start",
        MarkKind::Block => "block",
        MarkKind::Fault => "fault",
        MarkKind::Panic => "panic",
        MarkKind::Injected => "injected",
        MarkKind::Finish => "finish",
        MarkKind::Other => "other",
    }
}

/// The explorer page for `run`'s failing execution.
pub fn explorer_html(run: &ScenarioRun) -> String {
    let names = run.trace.task_names();
    let marks = run.trace.marks();
    let tasks: Vec<serde_json::Value> = names
        .iter()
        .map(|name| serde_json::json!({ "name": name, "kind": lane_kind(name) }))
        .collect();
    let events: Vec<serde_json::Value> = marks
        .iter()
        .map(|mark| {
            serde_json::json!([
                mark.step,
                mark.task.0,
                kind_code(mark.kind),
                mark.site,
                mark.op
            ])
        })
        .collect();
    let failure = run.failure.as_ref();
    let data = serde_json::json!({
        "tasks": tasks,
        "events": events,
        "verdict": run.outcome(),
        "kind": failure.map(|failure| failure.kind.to_string()),
    });
    // `</` inside a script element would end it early.
    let data = data.to_string().replace("</", "<\\/");
    let title = format!(
        "{} — {} (expected {})",
        run.scenario.name,
        run.outcome(),
        expect_label(&run.scenario.expect)
    );
    let mut summary = String::new();
    let mut message = String::new();
    let mut replay = String::new();
    if let Some(failure) = failure {
        let _ = write!(
            summary,
            "seed {:#x} · execution {} · {} steps",
            failure.seed, failure.execution_idx, failure.steps
        );
        if let Some(shrunk) = &failure.shrunk {
            let _ = write!(
                summary,
                " · {} · the bug {}",
                shrunk.describe(),
                shrunk.depth()
            );
        }
        message = failure.message.clone();
        replay = failure.replay_command.clone();
    }
    let mut legend = String::new();
    for (kind, colour, meaning) in PALETTE {
        let _ = write!(
            legend,
            "<span class=\"key\" data-kind=\"{kind}\"><i style=\"background:{colour}\"></i>\
             {meaning} running</span>"
        );
    }
    legend.push_str(
        "<span class=\"key\"><i style=\"background:#cccccc\"></i>parked (blocked)</span>\
         <span class=\"key\"><i class=\"mark\" style=\"background:#d62728\"></i>fault fired \
         (triangle)</span>\
         <span class=\"key\"><i class=\"mark\" style=\"background:#000000\"></i>panic or \
         invariant broken (last step)</span>\
         <span class=\"key\"><i style=\"background:#ffd54f\"></i>current step</span>",
    );
    let mut out = String::with_capacity(4096 + data.len());
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <title>vigil: {title}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n\
         <h1>{title}</h1>\n<p id=\"summary\">{summary}</p>\n\
         <pre id=\"verdict\">{message}</pre>\n\
         <div id=\"replay-box\"><code id=\"replay\">{replay}</code>\
         <button id=\"copy\" type=\"button\">Copy replay command</button>\
         <span id=\"copied\"></span></div>\n\
         <div id=\"legend\">{legend}</div>\n\
         <div id=\"controls\"><button id=\"first\" type=\"button\">first</button>\
         <button id=\"prev\" type=\"button\">◀ prev</button>\
         <input id=\"slider\" type=\"range\" min=\"0\" max=\"0\" value=\"0\">\
         <button id=\"next\" type=\"button\">next ▶</button>\
         <button id=\"last\" type=\"button\">last</button>\
         <button id=\"next-fault\" type=\"button\">next fault</button>\
         <span id=\"position\"></span></div>\n\
         <div id=\"current\"></div>\n\
         <canvas id=\"overview\" width=\"1200\" height=\"40\"></canvas>\n\
         <div id=\"lanes\"></div>\n\
         <h2>Events around the current step</h2>\n<table id=\"window\"></table>\n\
         <pre id=\"selftest\"></pre>\n\
         <script id=\"data\" type=\"application/json\">{data}</script>\n\
         <script>{SCRIPT}</script>\n</body>\n</html>\n",
        title = xml_escape(&title),
        summary = xml_escape(&summary),
        message = xml_escape(&message),
        replay = xml_escape(&replay),
    );
    out
}

const STYLE: &str = r##"
body { font: 14px/1.4 system-ui, sans-serif; margin: 16px; color: #222; }
h1 { font-size: 18px; margin: 0 0 4px; }
h2 { font-size: 15px; margin: 16px 0 4px; }
#summary { color: #555; margin: 0 0 8px; }
#verdict { background: #fdecea; border: 1px solid #d62728; padding: 8px; white-space: pre-wrap; max-height: 12em; overflow: auto; }
#replay-box { margin: 8px 0; display: flex; gap: 8px; align-items: flex-start; }
#replay { flex: 1; font: 12px monospace; background: #f4f4f4; padding: 6px; word-break: break-all; white-space: pre-wrap; }
#legend { display: flex; flex-wrap: wrap; gap: 12px; margin: 8px 0; }
.key i { display: inline-block; width: 14px; height: 10px; margin-right: 4px; vertical-align: middle; }
.key i.mark { width: 10px; height: 10px; }
#controls { display: flex; gap: 6px; align-items: center; margin: 8px 0; }
#slider { flex: 1; }
#current { font: 13px monospace; background: #fff8e1; border: 1px solid #ffd54f; padding: 6px; }
#overview { width: 100%; border: 1px solid #ddd; margin-top: 8px; cursor: pointer; }
#lanes { font: 12px monospace; }
.lane { display: grid; grid-template-columns: 22em 12em 1fr 1fr; gap: 8px; padding: 2px 4px; border-bottom: 1px solid #eee; }
.lane.acting { background: #fff8e1; }
.lane .name { overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.lane .name i { display: inline-block; width: 10px; height: 10px; margin-right: 4px; }
#window { font: 12px monospace; border-collapse: collapse; }
#window td { padding: 1px 8px; }
#window tr.now { background: #ffd54f; }
#window tr.fault td { color: #d62728; }
#selftest:empty { display: none; }
"##;

const SCRIPT: &str = r##"
"use strict";
const data = JSON.parse(document.getElementById("data").textContent);
const colours = { main: "#2ca02c", task: "#1f77b4", listener: "#9467bd", runner: "#7f7f7f", fault: "#d62728" };
const events = data.events;
const tasks = data.tasks;
const slider = document.getElementById("slider");
const lanes = document.getElementById("lanes");
slider.max = Math.max(events.length - 1, 0);
let current = 0;

function taskLabel(id) { return "t" + id + " " + (tasks[id] ? tasks[id].name : "?"); }
function eventText(e) {
  return "step " + e[0] + " · " + taskLabel(e[1]) + " · " + (e[3] === "-" ? "" : e[3] + " ") + e[4];
}

// One lane element per task: name, status, locks held, waiting on.
const laneRows = tasks.map((task, id) => {
  const row = document.createElement("div");
  row.className = "lane";
  row.dataset.task = String(id);
  const name = document.createElement("span");
  name.className = "name";
  name.innerHTML = '<i style="background:' + colours[task.kind] + '"></i>';
  name.appendChild(document.createTextNode(taskLabel(id)));
  const status = document.createElement("span");
  status.className = "status";
  const held = document.createElement("span");
  held.className = "held";
  const waits = document.createElement("span");
  waits.className = "waits";
  row.append(name, status, held, waits);
  lanes.appendChild(row);
  return { row, status, held, waits };
});

// The state of every task after event `upto`, replayed from the start of the trace.
function stateAt(upto) {
  const state = tasks.map(() => ({ status: "not started", held: new Set(), waits: "" }));
  for (let i = 0; i <= upto && i < events.length; i++) {
    const [, task, kind, site, op] = events[i];
    const s = state[task];
    if (!s) continue;
    if (kind === "start") { s.status = "runnable"; }
    else if (kind === "block") {
      s.status = "parked";
      s.waits = site + " " + op;
      if (op === "park" && s.held.has(site)) { s.held.delete(site); }
    } else if (kind === "finish") { s.status = "finished"; s.held.clear(); s.waits = ""; }
    else if (kind === "fault" || kind === "panic" || kind === "injected") { s.status = kind; }
    else if (kind === "run") {
      s.status = "runnable";
      s.waits = "";
      if (op === "lock" || op === "lock (woken)") { s.held.add(site); }
      else if (op === "unlock") { s.held.delete(site); }
    } else if (kind === "other" && op.startsWith("unlock")) {
      s.held.delete(site);
    }
  }
  // A lock point followed by a park at the same site means the task is waiting for it.
  return state;
}

function drawOverview() {
  const canvas = document.getElementById("overview");
  const laneHeight = 12;
  canvas.height = Math.max(tasks.length * laneHeight, 12);
  const ctx = canvas.getContext("2d");
  ctx.fillStyle = "#ffffff";
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  const n = Math.max(events.length, 1);
  const w = Math.max(canvas.width / n, 1);
  events.forEach((e, i) => {
    const x = Math.floor(i / n * canvas.width);
    const y = e[1] * laneHeight;
    const kind = e[2];
    if (kind === "fault") {
      ctx.fillStyle = "#d62728";
      ctx.beginPath(); ctx.moveTo(x, y + laneHeight); ctx.lineTo(x + 5, y); ctx.lineTo(x + 10, y + laneHeight); ctx.fill();
    } else if (kind === "panic" || (i === events.length - 1 && data.kind)) {
      ctx.fillStyle = "#000000"; ctx.fillRect(x, y, Math.max(w, 3), laneHeight);
    } else if (kind === "block") {
      ctx.fillStyle = "#cccccc"; ctx.fillRect(x, y + 2, Math.max(w, 1), laneHeight - 4);
    } else {
      ctx.fillStyle = colours[tasks[e[1]] ? tasks[e[1]].kind : "task"]; ctx.fillRect(x, y + 1, Math.max(w, 1), laneHeight - 2);
    }
  });
  const cx = Math.floor(current / n * canvas.width);
  ctx.fillStyle = "rgba(255, 213, 79, 0.7)";
  ctx.fillRect(cx - 1, 0, 3, canvas.height);
}

function render() {
  slider.value = String(current);
  const e = events[current];
  document.getElementById("current").textContent = e ? eventText(e) : "no events";
  document.getElementById("current").dataset.index = String(current);
  document.getElementById("position").textContent = "event " + (current + 1) + " of " + events.length;
  const state = stateAt(current);
  state.forEach((s, id) => {
    const lane = laneRows[id];
    lane.row.classList.toggle("acting", !!e && e[1] === id);
    lane.status.textContent = s.status;
    lane.held.textContent = s.held.size ? "holds " + Array.from(s.held).join(", ") : "";
    lane.waits.textContent = s.waits ? "waits at " + s.waits : "";
  });
  const table = document.getElementById("window");
  table.textContent = "";
  const from = Math.max(0, current - 12), to = Math.min(events.length, current + 13);
  for (let i = from; i < to; i++) {
    const row = table.insertRow();
    if (i === current) row.className = "now";
    if (events[i][2] === "fault") row.className += " fault";
    row.insertCell().textContent = String(events[i][0]);
    row.insertCell().textContent = taskLabel(events[i][1]);
    row.insertCell().textContent = events[i][3];
    row.insertCell().textContent = events[i][4];
  }
  drawOverview();
}

function go(index) { current = Math.min(Math.max(index, 0), Math.max(events.length - 1, 0)); render(); }
document.getElementById("first").addEventListener("click", () => go(0));
document.getElementById("prev").addEventListener("click", () => go(current - 1));
document.getElementById("next").addEventListener("click", () => go(current + 1));
document.getElementById("last").addEventListener("click", () => go(events.length - 1));
document.getElementById("next-fault").addEventListener("click", () => {
  for (let i = current + 1; i < events.length; i++) { if (events[i][2] === "fault") { go(i); return; } }
});
slider.addEventListener("input", () => go(Number(slider.value)));
document.addEventListener("keydown", (event) => {
  if (event.key === "ArrowRight") go(current + 1);
  if (event.key === "ArrowLeft") go(current - 1);
});
document.getElementById("overview").addEventListener("click", (event) => {
  const rect = event.target.getBoundingClientRect();
  go(Math.floor((event.clientX - rect.left) / rect.width * events.length));
});
document.getElementById("copy").addEventListener("click", () => {
  const text = document.getElementById("replay").textContent;
  const done = () => { document.getElementById("copied").textContent = "copied"; };
  if (navigator.clipboard && window.isSecureContext) {
    navigator.clipboard.writeText(text).then(done, () => selectReplay());
  } else { selectReplay(); }
});
function selectReplay() {
  const range = document.createRange();
  range.selectNodeContents(document.getElementById("replay"));
  const selection = window.getSelection();
  selection.removeAllRanges(); selection.addRange(range);
  document.execCommand("copy");
  document.getElementById("copied").textContent = "selected; copied if the browser allowed it";
}

go(events.length - 1);

if (location.hash === "#selftest") {
  const seen = {};
  const read = () => ({ index: Number(document.getElementById("current").dataset.index), text: document.getElementById("current").textContent });
  seen.lanes = document.querySelectorAll("#lanes .lane").length;
  seen.initial = read();
  document.getElementById("first").click();
  seen.first = read();
  document.getElementById("next").click();
  seen.next = read();
  slider.value = "3";
  slider.dispatchEvent(new Event("input"));
  seen.slider = read();
  seen.replay = document.getElementById("replay").textContent;
  seen.held = laneRows.map((lane) => lane.held.textContent);
  document.getElementById("selftest").textContent = JSON.stringify(seen);
}
"##;
