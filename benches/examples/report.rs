//! Turns the last bench run into the README's table and plot: reads criterion's estimates
//! under `target/criterion/`, prints a markdown table (snapshot time of the pool and of the
//! original algorithm at each size, and their ratio), and writes `benches/snapshot.svg`, a
//! log-log plot of snapshot time against pool size for both. No plotting dependency: the SVG
//! is written by hand.
//!
//!     cargo run --release -p vigil-benches --example report [CRITERION_DIR]

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

const SIZES: [u64; 4] = [10, 100, 1_000, 10_000];

/// Criterion's mean estimate for one benchmark, in nanoseconds.
fn mean_ns(root: &Path, id: &str) -> Option<f64> {
    let text = fs::read_to_string(root.join(id).join("new/estimates.json")).ok()?;
    let json: serde_json::Value = serde_json::from_str(&text).ok()?;
    json["mean"]["point_estimate"].as_f64()
}

fn human(ns: f64) -> String {
    if ns >= 1e6 {
        format!("{:.2} ms", ns / 1e6)
    } else if ns >= 1e3 {
        format!("{:.1} µs", ns / 1e3)
    } else {
        format!("{ns:.0} ns")
    }
}

fn table(root: &Path) -> (String, Vec<(u64, f64, f64)>) {
    let mut out = String::from(
        "| workers | pool snapshot | original algorithm | original ÷ pool | pool ns/worker |\n\
         |---:|---:|---:|---:|---:|\n",
    );
    let mut points = Vec::new();
    for size in SIZES {
        let pool = mean_ns(root, &format!("snapshot/pool/{size}"));
        let original = mean_ns(root, &format!("snapshot/original/{size}"));
        if let (Some(pool), Some(original)) = (pool, original) {
            let _ = writeln!(
                out,
                "| {size} | {} | {} | {:.1}× | {:.1} |",
                human(pool),
                human(original),
                original / pool,
                pool / size as f64
            );
            points.push((size, pool, original));
        }
    }
    let churn_pool = mean_ns(root, "snapshot_under_churn/pool/1000");
    let churn_original = mean_ns(root, "snapshot_under_churn/original/1000");
    if let (Some(pool), Some(original)) = (churn_pool, churn_original) {
        let _ = writeln!(
            out,
            "| 1000, under churn | {} | {} | {:.1}× | {:.1} |",
            human(pool),
            human(original),
            original / pool,
            pool / 1000.0
        );
    }
    if let Some(cycle) = mean_ns(root, "register_unregister_cycle") {
        let _ = writeln!(out, "\nOne register+unregister cycle: {}.", human(cycle));
    }
    (out, points)
}

/// A log-log line plot of both series; axes labelled, one legend entry per series.
fn svg(points: &[(u64, f64, f64)]) -> String {
    let (width, height, margin) = (640.0, 400.0, 70.0);
    let min_ns = points
        .iter()
        .map(|p| p.1.min(p.2))
        .fold(f64::MAX, f64::min)
        .max(1.0);
    let max_ns = points.iter().map(|p| p.1.max(p.2)).fold(1.0, f64::max);
    let (y_low, y_high) = (
        min_ns.log10().floor(),
        max_ns.log10().ceil().max(min_ns.log10().floor() + 1.0),
    );
    let (x_low, x_high) = (1.0, 4.0);
    let x = |size: u64| {
        margin + ((size as f64).log10() - x_low) / (x_high - x_low) * (width - 2.0 * margin)
    };
    let y = |ns: f64| {
        height - margin - (ns.log10() - y_low) / (y_high - y_low) * (height - 2.0 * margin)
    };
    let mut out = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" \
         font-family=\"sans-serif\" font-size=\"12\">\n\
         <rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n\
         <text x=\"{}\" y=\"24\" text-anchor=\"middle\" font-size=\"14\">workers_for_channel: time per snapshot against pool size (log-log)</text>\n",
        width / 2.0
    );
    let (left, right, top, bottom) = (margin, width - margin, margin, height - margin);
    let _ = writeln!(
        out,
        "<line x1=\"{left}\" y1=\"{bottom}\" x2=\"{right}\" y2=\"{bottom}\" stroke=\"black\"/>\n\
         <line x1=\"{left}\" y1=\"{top}\" x2=\"{left}\" y2=\"{bottom}\" stroke=\"black\"/>"
    );
    for size in SIZES {
        let _ = writeln!(
            out,
            "<text x=\"{:.1}\" y=\"{}\" text-anchor=\"middle\">{size}</text>",
            x(size),
            bottom + 18.0
        );
    }
    let mut decade = y_low;
    while decade <= y_high {
        let ns = 10f64.powf(decade);
        let _ = writeln!(
            out,
            "<line x1=\"{left}\" y1=\"{0:.1}\" x2=\"{right}\" y2=\"{0:.1}\" stroke=\"#ddd\"/>\n\
             <text x=\"{1}\" y=\"{2:.1}\" text-anchor=\"end\">{3}</text>",
            y(ns),
            left - 6.0,
            y(ns) + 4.0,
            human(ns)
        );
        decade += 1.0;
    }
    let _ = writeln!(
        out,
        "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">registered workers on the channel</text>",
        width / 2.0,
        height - 20.0
    );
    for (label, colour, pick, legend_y) in [
        ("original algorithm (spec c.7)", "#c0392b", 2, top + 10.0),
        ("pool (this version)", "#2471a3", 1, top + 28.0),
    ] {
        let line: Vec<String> = points
            .iter()
            .map(|p| {
                let ns = if pick == 1 { p.1 } else { p.2 };
                format!("{:.1},{:.1}", x(p.0), y(ns))
            })
            .collect();
        let _ = writeln!(
            out,
            "<polyline fill=\"none\" stroke=\"{colour}\" stroke-width=\"2\" points=\"{}\"/>",
            line.join(" ")
        );
        for point in &line {
            let (px, py) = point.split_once(',').unwrap_or(("0", "0"));
            let _ = writeln!(
                out,
                "<circle cx=\"{px}\" cy=\"{py}\" r=\"3\" fill=\"{colour}\"/>"
            );
        }
        let _ = writeln!(
            out,
            "<rect x=\"{0}\" y=\"{1}\" width=\"12\" height=\"4\" fill=\"{colour}\"/>\n\
             <text x=\"{2}\" y=\"{3}\">{label}</text>",
            left + 12.0,
            legend_y - 4.0,
            left + 30.0,
            legend_y + 2.0
        );
    }
    out.push_str("</svg>\n");
    out
}

fn main() {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let root = std::env::args()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| manifest.join("../target/criterion"));
    let (markdown, points) = table(&root);
    if points.is_empty() {
        eprintln!(
            "no snapshot estimates under {}; run `cargo bench -p vigil-benches --bench snapshot` first",
            root.display()
        );
        std::process::exit(1);
    }
    print!("{markdown}");
    let path = manifest.join("snapshot.svg");
    fs::write(&path, svg(&points)).expect("benches/snapshot.svg is writable");
    eprintln!("wrote {}", path.display());
}
