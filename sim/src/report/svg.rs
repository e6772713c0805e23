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
    let height = TOP + verdict.max(lanes as f64 * LANE_HEIGHT) + 70.0;
    let width = LABEL_WIDTH + PLOT_WIDTH + VERDICT_WIDTH;
    let x = |step: u64| LABEL_WIDTH + step as f64 * PLOT_WIDTH / steps as f64;
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
        run.observed.label(),
        expect_label(&run.scenario.expect)
    );
    let _ = writeln!(
        out,
        "<text x=\"10\" y=\"22\" font-size=\"16\" font-weight=\"bold\">{}</text>",
        xml_escape(&title)
    );
    let subtitle = match &run.failure {
        Some(failure) => format!(
            "seed {} · execution {} · {} steps · replay: {}",
            failure.seed, failure.execution_idx, failure.steps, failure.replay_command
        ),
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
         <text x=\"{:.0}\" y=\"{axis_y:.0}\" fill=\"#555555\" text-anchor=\"end\">step {}</text>",
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
    draw_runs(&mut out, &marks, names, &x, &lane_y);
    draw_marks(&mut out, &marks, &x, &lane_y);
    draw_verdict(&mut out, run, lanes);
    draw_legend(&mut out, height);
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
    let heading = run.observed.label();
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

fn draw_legend(out: &mut String, height: f64) {
    let y = height - 24.0;
    let _ = writeln!(
        out,
        "<g fill=\"#333333\"><rect x=\"10\" y=\"{:.0}\" width=\"18\" height=\"10\" fill=\"#1f77b4\"/>\
         <text x=\"34\" y=\"{y:.0}\">task running</text>\
         <path d=\"M150 {:.0} l6 6 l-6 6 l-6 -6 z\" fill=\"#d62728\"/><text x=\"162\" y=\"{y:.0}\">fault fired</text>\
         <path d=\"M270 {:.0} l10 10 m0 -10 l-10 10\" stroke=\"#d62728\" stroke-width=\"2.5\"/>\
         <text x=\"286\" y=\"{y:.0}\">panic</text>\
         <line x1=\"360\" y1=\"{:.0}\" x2=\"360\" y2=\"{:.0}\" stroke=\"#444444\"/>\
         <text x=\"368\" y=\"{y:.0}\">park (blocked)</text>\
         <circle cx=\"490\" cy=\"{:.0}\" r=\"3\" fill=\"#000000\"/><text x=\"500\" y=\"{y:.0}\">finished</text>\
         <line x1=\"590\" y1=\"{:.0}\" x2=\"590\" y2=\"{:.0}\" stroke=\"#bbbbbb\"/>\
         <text x=\"598\" y=\"{y:.0}\">task switch</text></g>",
        y - 9.0,
        y - 10.0,
        y - 9.0,
        y - 10.0,
        y + 2.0,
        y - 4.0,
        y - 10.0,
        y + 2.0
    );
}
