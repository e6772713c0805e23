//! The failure explorer page, opened in a real browser (headless Chromium): its script runs,
//! draws one lane per task, its step controls move the current event, and it shows the whole
//! replay command. `.ci/run` installs Chromium; set `VIGIL_CHROMIUM` to use another binary.

use std::path::{Path, PathBuf};
use std::process::Command;

use vigil_sim::report;
use vigil_sim::{Overrides, ScenarioRun, run_scenario, scenario};

fn run_fixture(name: &str) -> ScenarioRun {
    let file = format!("tests/fixtures/{name}.toml");
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(&file);
    let scenario = scenario::load(&path).unwrap();
    run_scenario(&scenario, &file, &Overrides::default())
}

/// The browser to test with: `VIGIL_CHROMIUM`, or the first of Debian's names on the PATH.
fn chromium() -> PathBuf {
    if let Ok(path) = std::env::var("VIGIL_CHROMIUM") {
        return PathBuf::from(path);
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    for name in [
        "chromium",
        "chromium-headless-shell",
        "chromium-browser",
        "google-chrome",
    ] {
        for dir in std::env::split_paths(&path) {
            let candidate = dir.join(name);
            if candidate.is_file() {
                return candidate;
            }
        }
    }
    panic!(
        "the explorer test needs a headless Chromium: install Debian's `chromium` package \
         (`apt-get install chromium`, as .ci/run does) or set VIGIL_CHROMIUM to a browser binary"
    );
}

/// Opens `page` with `#selftest` in headless Chromium and returns the DOM after its scripts ran.
fn dump_dom(page: &Path) -> String {
    let profile = Path::new(env!("CARGO_TARGET_TMPDIR")).join("explorer-profile");
    let url = format!("file://{}#selftest", page.display());
    let output = Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-dev-shm-usage",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg("--dump-dom")
        .arg(&url)
        .output()
        .expect("the browser starts");
    assert!(
        output.status.success(),
        "the browser failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("the DOM is UTF-8")
}

/// The text of `<pre id="selftest">` in a dumped DOM, unescaped.
fn selftest(dom: &str) -> serde_json::Value {
    let start = dom
        .find("<pre id=\"selftest\">")
        .expect("the page has its self-test block")
        + "<pre id=\"selftest\">".len();
    let end = start + dom[start..].find("</pre>").unwrap();
    let text = dom[start..end]
        .replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&");
    serde_json::from_str(&text).unwrap_or_else(|error| panic!("{error}: {text}"))
}

#[test]
fn the_explorer_page_runs_in_a_browser_and_its_controls_move_the_current_event() {
    let run = run_fixture("step-limit");
    let failure = run.failure.as_ref().expect("the fixture fails");
    let html = report::explorer_html(&run);
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "no network"
    );
    assert!(
        !html.contains("<script src") && !html.contains("<link"),
        "self-contained"
    );
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("explorer");
    std::fs::create_dir_all(&dir).unwrap();
    let page = dir.join("step-limit.html");
    std::fs::write(&page, &html).unwrap();

    let seen = selftest(&dump_dom(&page));
    let tasks = run.trace.task_names().len();
    assert!(tasks >= 3, "the fixture has several tasks");
    assert_eq!(seen["lanes"], tasks, "one lane per task: {seen}");
    let lines: Vec<String> = run
        .trace
        .render()
        .lines()
        .skip(1)
        .map(str::to_owned)
        .collect();
    let last = lines.len() - 1;
    assert_eq!(
        seen["initial"]["index"], last,
        "the page opens at the failing step"
    );
    assert_eq!(seen["first"]["index"], 0);
    assert_eq!(seen["next"]["index"], 1, "next moves one event on: {seen}");
    assert_eq!(
        seen["slider"]["index"], 3,
        "the slider moves to its value: {seen}"
    );
    // The current event names the same step and task as the trace's line for that event.
    for (key, index) in [("first", 0), ("next", 1), ("slider", 3)] {
        let text = seen[key]["text"].as_str().unwrap();
        let line = &lines[index];
        let mut columns = line.split_whitespace();
        let step = columns.next().unwrap();
        let _time = columns.next();
        let task = columns.next().unwrap();
        assert!(
            text.starts_with(&format!("step {step} · {task} ")),
            "{text} vs {line}"
        );
        assert!(
            text.ends_with(line.rsplit("  ").next().unwrap().trim()),
            "{text} vs {line}"
        );
    }
    assert_eq!(
        seen["replay"],
        failure.replay_command.as_str(),
        "the whole replay command"
    );
    assert!(failure.replay_command.contains(&failure.schedule));
}

#[test]
fn a_long_trace_stays_one_canvas_and_a_window_of_rows() {
    let run = run_fixture("step-limit");
    let html = report::explorer_html(&run);
    // Events travel as data, not as elements: the page's markup does not grow per event.
    let rows = html.matches("<tr").count();
    assert_eq!(
        rows, 0,
        "rows are built by the script around the current step only"
    );
    assert_eq!(html.matches("<canvas").count(), 1);
}
