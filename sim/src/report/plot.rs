//! The coverage plot as SVG: distinct abstract states found against executions run.
//!
//! A rising line is a search still finding new situations; a flat tail is a saturated one.
//! The last tenth of the executions is shaded, so the saturation line of the summary ("the
//! last 10 % of executions found 0.4 % of the states") can be read off the picture.

use std::fmt::Write as _;

use super::xml_escape;
use crate::harness::ScenarioRun;

const WIDTH: f64 = 620.0;
const HEIGHT: f64 = 240.0;
const LEFT: f64 = 56.0;
const RIGHT: f64 = 16.0;
const TOP: f64 = 40.0;
const BOTTOM: f64 = 36.0;

/// The plot of `run`'s new states against its executions.
pub fn coverage_svg(run: &ScenarioRun) -> String {
    let reach = &run.reach;
    let executions = reach.executions.max(1);
    let states = reach.states().max(1);
    let plot_width = WIDTH - LEFT - RIGHT;
    let plot_height = HEIGHT - TOP - BOTTOM;
    let x = |execution: u64| LEFT + plot_width * execution as f64 / executions as f64;
    let y = |count: u64| TOP + plot_height * (1.0 - count as f64 / states as f64);
    let mut out = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{WIDTH}\" height=\"{HEIGHT}\" \
         font-family=\"monospace\" font-size=\"11\">\n\
         <rect width=\"{WIDTH}\" height=\"{HEIGHT}\" fill=\"#ffffff\"/>\n\
         <text x=\"{LEFT}\" y=\"16\" font-size=\"12\">{}: distinct states</text>\n\
         <text x=\"{LEFT}\" y=\"30\" fill=\"#555555\">{}</text>\n",
        xml_escape(&run.scenario.name),
        xml_escape(&reach.saturation_line())
    );
    let tail = executions - executions.div_ceil(10);
    let _ = writeln!(
        out,
        "<rect x=\"{:.1}\" y=\"{TOP}\" width=\"{:.1}\" height=\"{plot_height}\" \
         fill=\"#eeeeee\"/>",
        x(tail),
        x(executions) - x(tail)
    );
    let _ = writeln!(
        out,
        "<line x1=\"{LEFT}\" y1=\"{0}\" x2=\"{1}\" y2=\"{0}\" stroke=\"#000000\"/>\n\
         <line x1=\"{LEFT}\" y1=\"{TOP}\" x2=\"{LEFT}\" y2=\"{0}\" stroke=\"#000000\"/>",
        TOP + plot_height,
        LEFT + plot_width
    );
    let axis_labels = [
        (LEFT, HEIGHT - 18.0, "start", "0".to_owned()),
        (
            LEFT + plot_width,
            HEIGHT - 18.0,
            "end",
            format!("{executions}"),
        ),
        (
            LEFT + plot_width / 2.0,
            HEIGHT - 4.0,
            "middle",
            "executions".to_owned(),
        ),
        (LEFT - 6.0, TOP + 4.0, "end", format!("{}", reach.states())),
        (LEFT - 6.0, TOP + plot_height, "end", "0".to_owned()),
    ];
    for (at_x, at_y, anchor, label) in axis_labels {
        let _ = writeln!(
            out,
            "<text x=\"{at_x:.1}\" y=\"{at_y:.1}\" text-anchor=\"{anchor}\">{label}</text>"
        );
    }
    // A step line: the count holds until the execution that found the next state.
    let mut points = String::new();
    let mut last = 0;
    for (execution, count) in reach.curve() {
        let _ = write!(points, "{:.1},{:.1} ", x(execution), y(last));
        let _ = write!(points, "{:.1},{:.1} ", x(execution), y(count));
        last = count;
    }
    let _ = write!(points, "{:.1},{:.1}", x(executions), y(last));
    let _ = writeln!(
        out,
        "<polyline points=\"{points}\" fill=\"none\" stroke=\"#1f77b4\" stroke-width=\"1.5\"/>"
    );
    out.push_str("</svg>\n");
    out
}
