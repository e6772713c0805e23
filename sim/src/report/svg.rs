//! The failure timeline as SVG: one lane per task, time (steps) to the right.
//!
//! A bar in a lane is a stretch of consecutive steps that task ran; a thin line between lanes
//! is a scheduling decision that switched tasks; a red diamond is a fault from the fault plan
//! (labelled above the lanes), a red cross a panic, a grey tick a park. The violated property
//! and its message close the picture on the right, so the eye lands on what broke last.

use std::fmt::Write as _;

use super::xml_escape;
use crate::harness::{ScenarioRun, expect_label};
use crate::trace::{Mark, MarkKind};

const LANE_HEIGHT: f64 = 24.0;
const LABEL_WIDTH: f64 = 260.0;
const PLOT_WIDTH: f64 = 900.0;
const VERDICT_WIDTH: f64 = 330.0;
const TOP: f64 = 86.0;
const FAULT_ROW: f64 = 22.0;
const VERDICT_LINES_MAX: usize = 24;

/// The palette: one colour per lane kind, so a person can tell pool tasks from substrate ones.
fn lane_colour(name: &str) -> &'static str {
    if name.starts_with("fault:") {
        "#d62728"
    } else if name.starts_with("aion-worker-link-listener") {
        "#9467bd"
    } else if name.ends_with("-runner") {
        "#7f7f7f"
    } else if name == "main" {
        "#2ca02c"
    } else {
        "#1f77b4"
    }
}

fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && line.len() + 1 + word.len() > width {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

/// Steps run by one task in a row beyond this many are drawn compressed, so a task spinning
/// through timeouts for thousands of steps does not squeeze the interesting part to a sliver.
const STRETCH_CAP: u64 = 40;

/// A piecewise-linear step axis: every stretch of steps run by one task gets room for at most
/// `STRETCH_CAP` steps. Order is kept; long stretches are marked with their true length.
struct Axis {
    /// `(first step, length in steps, units before it, units it gets)` per stretch.
    stretches: Vec<(u64, u64, u64, u64)>,
    total_units: u64,
}

impl Axis {
    fn new(segments: &[(u32, u64, u64)], steps: u64) -> Self {
        let mut stretches = Vec::with_capacity(segments.len());
        let mut units = 0;
        let mut next = 0;
        for &(_, first, last) in segments {
            if first > next {
                stretches.push((next, first - next, units, (first - next).min(STRETCH_CAP)));
                units += (first - next).min(STRETCH_CAP);
            }
            let length = last - first + 1;
            stretches.push((first, length, units, length.min(STRETCH_CAP)));
            units += length.min(STRETCH_CAP);
            next = last + 1;
        }
        if steps > next {
            stretches.push((next, steps - next, units, (steps - next).min(STRETCH_CAP)));
            units += (steps - next).min(STRETCH_CAP);
        }
        Axis {
            stretches,
            total_units: units.max(1),
        }
    }

    /// Where `step` falls, from 0.0 (first step) to 1.0 (after the last).
    fn position(&self, step: u64) -> f64 {
        let index = self
            .stretches
            .partition_point(|(first, _, _, _)| *first <= step)
            .saturating_sub(1);
        let Some(&(first, length, before, units)) = self.stretches.get(index) else {
            return 0.0;
        };
        let within = (step.saturating_sub(first)).min(length) as f64 / length.max(1) as f64;
        (before as f64 + within * units as f64) / self.total_units as f64
    }

    /// Stretches drawn shorter than they are: `(first step, length)`.
    fn compressed(&self) -> impl Iterator<Item = (u64, u64)> + '_ {
        self.stretches
            .iter()
            .filter(|(_, length, _, units)| length > units)
            .map(|(first, length, _, _)| (*first, *length))
    }
}

/// Marks each compressed stretch with a bracket and its true length under the lanes.
fn draw_compressed(out: &mut String, axis: &Axis, x: &dyn Fn(u64) -> f64) {
    for (first, length) in axis.compressed() {
        let (left, right) = (x(first), x(first + length));
        let _ = writeln!(
            out,
            "<rect x=\"{left:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"6\" fill=\"#dddddd\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\" fill=\"#777777\" font-size=\"10\" \
             text-anchor=\"middle\">≈ {length} steps</text>",
            TOP - 8.0,
            (right - left).max(1.0),
            (left + right) / 2.0,
            TOP - 11.0
        );
    }
}

/// A thin red line through each stretch a task spends parked, from its park until it next
/// runs (or the end, where a line still open shows what the task was left waiting on).
fn draw_waits(
    out: &mut String,
    marks: &[Mark],
    steps: u64,
    x: &dyn Fn(u64) -> f64,
    lane_y: &dyn Fn(u32) -> f64,
) {
    let mut open: Vec<Option<(u64, &str)>> = Vec::new();
    let mut waits: Vec<(u32, u64, u64, &str)> = Vec::new();
    for mark in marks {
        let task = mark.task.0 as usize;
        if open.len() <= task {
            open.resize(task + 1, None);
        }
        match mark.kind {
            MarkKind::Block => open[task] = Some((mark.step, mark.label.as_str())),
            MarkKind::Run | MarkKind::Start | MarkKind::Finish => {
                if let Some((from, label)) = open[task].take() {
                    waits.push((mark.task.0, from, mark.step, label));
                }
            }
            _ => {}
        }
    }
    for (task, wait) in open.iter().enumerate() {
        if let Some((from, label)) = wait {
            waits.push((task as u32, *from, steps, label));
        }
    }
    for (task, from, to, label) in waits {
        let y = lane_y(task) + LANE_HEIGHT / 2.0;
        let _ = writeln!(
            out,
            "<line x1=\"{:.1}\" y1=\"{y:.1}\" x2=\"{:.1}\" y2=\"{y:.1}\" stroke=\"#e8a0a0\" \
             stroke-width=\"3\"><title>waiting at {}</title></line>",
            x(from),
            x(to),
            xml_escape(label)
        );
    }
}

/// Stretches of consecutive steps run by one task: `(task, first step, last step)`.
fn run_segments(marks: &[Mark]) -> Vec<(u32, u64, u64)> {
    let mut segments: Vec<(u32, u64, u64)> = Vec::new();
    for mark in marks
        .iter()
        .filter(|mark| matches!(mark.kind, MarkKind::Run | MarkKind::Start))
    {
        match segments.last_mut() {
            Some((task, _, last)) if *task == mark.task.0 && mark.step <= *last + 1 => {
                *last = mark.step;
            }
            _ => segments.push((mark.task.0, mark.step, mark.step)),
        }
    }
    segments
}

/// The timeline of `run`'s failing execution (an empty picture with a note when it has none).
pub fn timeline_svg(run: &ScenarioRun) -> String {
    let names = run.trace.task_names();
    let marks = run.trace.marks();
    let steps = marks.last().map_or(1, |mark| mark.step + 1).max(1);
    let lanes = names.len().max(1);
    let message = run
        .failure
        .as_ref()
        .map_or("", |failure| failure.message.as_str());
    let verdict = verdict_height(lanes, verdict_lines(message).len());
    let replay = run
        .failure
        .as_ref()
        .map(|failure| format!("replay: {}", failure.replay_command))
        .map_or_else(Vec::new, |text| wrap_chars(&text, REPLAY_LINE_CHARS));
    let legend_y = TOP + verdict.max(lanes as f64 * LANE_HEIGHT) + 46.0;
    let height = legend_y + 24.0 + LEGEND_ROW + replay.len() as f64 * 15.0 + 10.0;
    let width = LABEL_WIDTH + PLOT_WIDTH + VERDICT_WIDTH;
    let axis = Axis::new(&run_segments(&marks), steps);
    let x = |step: u64| LABEL_WIDTH + axis.position(step) * PLOT_WIDTH;
    let lane_y = |task: u32| TOP + f64::from(task) * LANE_HEIGHT;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width:.0}\" height=\"{height:.0}\" \
         viewBox=\"0 0 {width:.0} {height:.0}\" font-family=\"monospace\" font-size=\"12\">"
    );
    out.push_str("<rect width=\"100%\" height=\"100%\" fill=\"#ffffff\"/>\n");
    let title = format!(
        "{} — {} (expected {})",
        run.scenario.name,
        run.outcome(),
        expect_label(&run.scenario.expect)
    );
    let _ = writeln!(
        out,
        "<text x=\"10\" y=\"22\" font-size=\"16\" font-weight=\"bold\">{}</text>",
        xml_escape(&title)
    );
    let subtitle = match &run.failure {
        Some(failure) => {
            let shrunk = failure
                .shrunk
                .as_ref()
                .map_or(String::new(), |shrunk| format!(" · {}", shrunk.describe()));
            format!(
                "seed {:#x} · execution {} · {} steps{shrunk} · the full replay command is below",
                failure.seed, failure.execution_idx, failure.steps,
            )
        }
        None => "no failing execution".to_owned(),
    };
    let _ = writeln!(
        out,
        "<text x=\"10\" y=\"42\" fill=\"#555555\">{}</text>",
        xml_escape(&subtitle)
    );
    let axis_y = TOP + lanes as f64 * LANE_HEIGHT + 14.0;
    let _ = writeln!(
        out,
        "<text x=\"{LABEL_WIDTH}\" y=\"{axis_y:.0}\" fill=\"#555555\">step 0</text>\
         <text x=\"{:.0}\" y=\"{axis_y:.0}\" fill=\"#555555\" text-anchor=\"end\">step {} \
         (long single-task stretches drawn compressed, marked ≈ N steps)</text>",
        LABEL_WIDTH + PLOT_WIDTH,
        steps - 1
    );
    for (task, name) in names.iter().enumerate() {
        let y = lane_y(task as u32);
        let shade = if task % 2 == 0 { "#f4f4f4" } else { "#ffffff" };
        let _ = writeln!(
            out,
            "<rect x=\"0\" y=\"{y:.1}\" width=\"{:.0}\" height=\"{LANE_HEIGHT}\" fill=\"{shade}\"/>\
             <text x=\"6\" y=\"{:.1}\">t{task} {}</text>",
            LABEL_WIDTH + PLOT_WIDTH,
            y + 16.0,
            xml_escape(&truncate(name, 32))
        );
    }
    draw_compressed(&mut out, &axis, &x);
    draw_waits(&mut out, &marks, steps, &x, &lane_y);
    draw_runs(&mut out, &marks, names, &x, &lane_y);
    draw_marks(&mut out, &marks, &x, &lane_y);
    draw_verdict(&mut out, run, lanes);
    draw_legend(&mut out, legend_y);
    for (index, line) in replay.iter().enumerate() {
        let _ = writeln!(
            out,
            "<text x=\"10\" y=\"{:.0}\" fill=\"#333333\">{}</text>",
            legend_y + 24.0 + LEGEND_ROW + index as f64 * 15.0,
            xml_escape(line)
        );
    }
    out.push_str("</svg>\n");
    out
}

fn truncate(text: &str, chars: usize) -> String {
    if text.chars().count() <= chars {
        return text.to_owned();
    }
    let mut cut: String = text.chars().take(chars - 1).collect();
    cut.push('…');
    cut
}

fn draw_runs(
    out: &mut String,
    marks: &[Mark],
    names: &[String],
    x: &dyn Fn(u64) -> f64,
    lane_y: &dyn Fn(u32) -> f64,
) {
    let segments = run_segments(marks);
    let mut previous: Option<(u32, u64)> = None;
    for (task, first, last) in segments {
        let name = names.get(task as usize).map_or("?", String::as_str);
        let (left, right) = (x(first), x(last + 1).max(x(first) + 1.5));
        let _ = writeln!(
            out,
            "<rect x=\"{left:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"{}\"/>",
            lane_y(task) + 5.0,
            right - left,
            LANE_HEIGHT - 10.0,
            lane_colour(name)
        );
        if let Some((from, _)) = previous.filter(|(from, _)| *from != task) {
            let _ = writeln!(
                out,
                "<line x1=\"{left:.1}\" y1=\"{:.1}\" x2=\"{left:.1}\" y2=\"{:.1}\" \
                 stroke=\"#bbbbbb\" stroke-width=\"0.6\"/>",
                lane_y(from) + LANE_HEIGHT / 2.0,
                lane_y(task) + LANE_HEIGHT / 2.0
            );
        }
        previous = Some((task, last));
    }
}

fn draw_marks(
    out: &mut String,
    marks: &[Mark],
    x: &dyn Fn(u64) -> f64,
    lane_y: &dyn Fn(u32) -> f64,
) {
    let mut fault_labels = 0u32;
    for mark in marks {
        let (cx, cy) = (x(mark.step), lane_y(mark.task.0) + LANE_HEIGHT / 2.0);
        match mark.kind {
            MarkKind::Fault => {
                let _ = writeln!(
                    out,
                    "<path d=\"M{cx:.1} {:.1} l6 6 l-6 6 l-6 -6 z\" fill=\"#d62728\"/>\
                     <line x1=\"{cx:.1}\" y1=\"{:.1}\" x2=\"{cx:.1}\" y2=\"{:.1}\" stroke=\"#d62728\" \
                     stroke-dasharray=\"3 2\"/>",
                    TOP - FAULT_ROW,
                    TOP - FAULT_ROW + 12.0,
                    cy
                );
                let label = mark.label.trim_start_matches("FAULT ");
                let _ = writeln!(
                    out,
                    "<text x=\"{:.1}\" y=\"{:.1}\" fill=\"#d62728\">⚡ {}</text>",
                    cx + 8.0,
                    58.0 + f64::from(fault_labels % 2) * 14.0,
                    xml_escape(&truncate(label, 70))
                );
                fault_labels += 1;
            }
            MarkKind::Panic | MarkKind::Injected => {
                let colour = if mark.kind == MarkKind::Panic {
                    "#d62728"
                } else {
                    "#ff7f0e"
                };
                let _ = writeln!(
                    out,
                    "<path d=\"M{:.1} {:.1} l10 10 m0 -10 l-10 10\" stroke=\"{colour}\" \
                     stroke-width=\"2.5\"><title>{}</title></path>",
                    cx - 5.0,
                    cy - 5.0,
                    xml_escape(&mark.label)
                );
            }
            MarkKind::Block => {
                let _ = writeln!(
                    out,
                    "<line x1=\"{cx:.1}\" y1=\"{:.1}\" x2=\"{cx:.1}\" y2=\"{:.1}\" stroke=\"#444444\" \
                     stroke-width=\"1\"><title>{}</title></line>",
                    cy - 9.0,
                    cy + 9.0,
                    xml_escape(&mark.label)
                );
            }
            MarkKind::Finish => {
                let _ = writeln!(
                    out,
                    "<circle cx=\"{cx:.1}\" cy=\"{cy:.1}\" r=\"3\" fill=\"#000000\"/>"
                );
            }
            MarkKind::Run | MarkKind::Start | MarkKind::Other => {}
        }
    }
}

fn draw_verdict(out: &mut String, run: &ScenarioRun, lanes: usize) {
    let left = LABEL_WIDTH + PLOT_WIDTH + 16.0;
    let top = TOP;
    let heading = run.outcome();
    let message = run
        .failure
        .as_ref()
        .map_or("", |failure| failure.message.as_str());
    let lines = verdict_lines(message);
    let box_height = verdict_height(lanes, lines.len());
    let _ = writeln!(
        out,
        "<rect x=\"{left:.0}\" y=\"{top:.0}\" width=\"{:.0}\" height=\"{box_height:.0}\" \
         fill=\"#fdecea\" stroke=\"#d62728\"/>\
         <text x=\"{:.0}\" y=\"{:.0}\" font-size=\"14\" font-weight=\"bold\" fill=\"#d62728\">{}</text>",
        VERDICT_WIDTH - 26.0,
        left + 8.0,
        top + 20.0,
        xml_escape(&heading)
    );
    for (index, line) in lines.iter().enumerate() {
        let _ = writeln!(
            out,
            "<text x=\"{:.0}\" y=\"{:.0}\">{}</text>",
            left + 8.0,
            top + 40.0 + index as f64 * 15.0,
            xml_escape(line)
        );
    }
}

/// The failure message wrapped to the verdict box, keeping its own line breaks, at most
/// `VERDICT_LINES_MAX` lines.
fn verdict_lines(message: &str) -> Vec<String> {
    let mut lines: Vec<String> = message.lines().flat_map(|line| wrap(line, 40)).collect();
    if lines.len() > VERDICT_LINES_MAX {
        lines.truncate(VERDICT_LINES_MAX);
        lines.push("… (the trace file has the rest)".to_owned());
    }
    lines
}

fn verdict_height(lanes: usize, lines: usize) -> f64 {
    (lanes as f64 * LANE_HEIGHT).max(34.0 + lines as f64 * 15.0)
}

/// Splits `text` into lines of at most `width` characters, cutting anywhere (a replay string
/// has no spaces to break at, and must be shown whole).
fn wrap_chars(text: &str, width: usize) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    chars
        .chunks(width.max(1))
        .map(|chunk| chunk.iter().collect())
        .collect()
}

/// Characters of the replay command per line (monospace at 12 px across the drawing).
const REPLAY_LINE_CHARS: usize = 200;
/// The height of the legend's second row (lane colours).
const LEGEND_ROW: f64 = 18.0;

fn draw_legend(out: &mut String, y: f64) {
    let row = y + LEGEND_ROW;
    let mut x = 10.0;
    out.push_str("<g fill=\"#333333\">");
    for (colour, meaning) in [
        ("#2ca02c", "main task running"),
        ("#1f77b4", "scenario task running"),
        ("#9467bd", "link listener running"),
        ("#7f7f7f", "substrate runner running"),
        ("#d62728", "fault task running"),
    ] {
        let _ = write!(
            out,
            "<rect x=\"{x:.0}\" y=\"{:.0}\" width=\"18\" height=\"10\" fill=\"{colour}\"/>\
             <text x=\"{:.0}\" y=\"{row:.0}\">{meaning}</text>",
            row - 9.0,
            x + 24.0
        );
        x += 34.0 + meaning.len() as f64 * 7.3;
    }
    out.push_str("</g>\n");
    let _ = writeln!(
        out,
        "<g fill=\"#333333\"><rect x=\"10\" y=\"{:.0}\" width=\"18\" height=\"10\" fill=\"#ffffff\" stroke=\"#999999\"/>\
         <text x=\"34\" y=\"{y:.0}\">running (colour by task, below)</text>\
         <path d=\"M150 {:.0} l6 6 l-6 6 l-6 -6 z\" fill=\"#d62728\"/><text x=\"162\" y=\"{y:.0}\">fault fired</text>\
         <path d=\"M270 {:.0} l10 10 m0 -10 l-10 10\" stroke=\"#d62728\" stroke-width=\"2.5\"/>\
         <text x=\"286\" y=\"{y:.0}\">panic</text>\
         <line x1=\"360\" y1=\"{:.0}\" x2=\"360\" y2=\"{:.0}\" stroke=\"#444444\"/>\
         <text x=\"368\" y=\"{y:.0}\">park (blocked)</text>\
         <circle cx=\"490\" cy=\"{:.0}\" r=\"3\" fill=\"#000000\"/><text x=\"500\" y=\"{y:.0}\">finished</text>\
         <line x1=\"590\" y1=\"{:.0}\" x2=\"590\" y2=\"{:.0}\" stroke=\"#bbbbbb\"/>\
         <text x=\"598\" y=\"{y:.0}\">task switch</text>\
         <line x1=\"700\" y1=\"{:.0}\" x2=\"724\" y2=\"{:.0}\" stroke=\"#e8a0a0\" stroke-width=\"3\"/>\
         <text x=\"730\" y=\"{y:.0}\">parked, waiting</text></g>",
        y - 9.0,
        y - 10.0,
        y - 9.0,
        y - 10.0,
        y + 2.0,
        y - 4.0,
        y - 10.0,
        y + 2.0,
        y - 4.0,
        y - 4.0
    );
}
