//! Scenarios back to TOML: how a generated workload that failed becomes an ordinary
//! fixed-step scenario file (a regression), and how a person reads generated steps.
//!
//! `parse(render(s))` gives `s` back for every scenario without a `[generate]` table (tested
//! on the whole corpus), so a saved file means exactly what ran.

use std::fmt::Write as _;

use super::{Expect, FaultPlan, Scenario, Step, StrategyKind, TaskSpec};

/// A TOML string literal.
fn quoted(text: &str) -> String {
    toml::Value::String(text.to_owned()).to_string()
}

fn list(items: impl IntoIterator<Item = String>) -> String {
    let items: Vec<String> = items.into_iter().collect();
    format!("[{}]", items.join(", "))
}

/// One step as an inline table.
pub fn step(step: &Step) -> String {
    match step {
        Step::Register {
            worker,
            id,
            queue,
            capacity,
            tags,
            supplied,
            shares,
        } => {
            let op = if *supplied {
                "register_with_participant"
            } else {
                "register"
            };
            let mut out = format!("{{ op = \"{op}\", worker = {}", quoted(id));
            if worker != id {
                let _ = write!(out, ", as = {}", quoted(worker));
            }
            let _ = write!(out, ", queue = {}, capacity = {capacity}", quoted(queue));
            if !tags.is_empty() {
                let _ = write!(out, ", tags = {}", list(tags.iter().map(|t| quoted(t))));
            }
            if let Some(shares) = shares {
                let _ = write!(out, ", shares = {}", quoted(shares));
            }
            out + " }"
        }
        Step::Unregister { worker } => {
            format!("{{ op = \"unregister\", worker = {} }}", quoted(worker))
        }
        Step::Drop { worker } => format!("{{ op = \"drop\", worker = {} }}", quoted(worker)),
        Step::SetInFlight { worker, value } => format!(
            "{{ op = \"set_in_flight\", worker = {}, value = {value} }}",
            quoted(worker)
        ),
        Step::Snapshot { queue } => format!("{{ op = \"snapshot\", queue = {} }}", quoted(queue)),
        Step::Publish {
            queue,
            activity_type,
        } => format!(
            "{{ op = \"publish\", queue = {}, activity_type = {} }}",
            quoted(queue),
            quoted(activity_type)
        ),
        Step::Dispatch {
            queue,
            activity_type,
            policy,
            routing,
        } => {
            let mut out = format!(
                "{{ op = \"dispatch\", queue = {}, activity_type = {}, policy = \"{}\"",
                quoted(queue),
                quoted(activity_type),
                policy.name()
            );
            if let Some(routing) = routing {
                let _ = write!(out, ", routing = \"{}\"", routing.name());
            }
            out + " }"
        }
        Step::Crash { worker, reason } => format!(
            "{{ op = \"crash\", worker = {}, reason = \"{}\" }}",
            quoted(worker),
            reason.as_str()
        ),
    }
}

/// `[[tasks]]` tables for `tasks`.
pub fn tasks(tasks: &[TaskSpec]) -> String {
    let mut out = String::new();
    for task in tasks {
        let _ = writeln!(out, "[[tasks]]\nname = {}\nsteps = [", quoted(&task.name));
        for one in &task.steps {
            let _ = writeln!(out, "  {},", step(one));
        }
        out.push_str("]\n\n");
    }
    out
}

fn strategy(scenario: &Scenario) -> String {
    let spec = &scenario.strategy;
    let mut out = format!(
        "[strategy]\nkind = \"{}\"\nexecutions = {}\nsteps_max = {}\ntasks_max = {}\n",
        spec.kind.name(),
        spec.executions,
        spec.steps_max,
        spec.tasks_max
    );
    match spec.kind {
        StrategyKind::Pct { depth } => {
            let _ = writeln!(out, "depth = {depth}");
        }
        StrategyKind::Dfs { preemptions_max } => {
            let _ = writeln!(out, "preemptions_max = {preemptions_max}");
        }
        StrategyKind::Dpor {
            preemptions_max,
            faults_max,
        } => {
            let _ = writeln!(
                out,
                "preemptions_max = {preemptions_max}\nfaults_max = {faults_max}"
            );
        }
        StrategyKind::Random | StrategyKind::Portfolio => {}
    }
    if spec.split_depth > 0 {
        let _ = writeln!(out, "split_depth = {}", spec.split_depth);
    }
    if let Some(wall) = spec.wall_time_max {
        let _ = writeln!(out, "wall_time_max_secs = {}", wall.as_secs());
    }
    out
}

fn faults(plan: &FaultPlan) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "[faults]\nbudget = {}\nkinds = {}\ntargets = {}\nreasons = {}",
        plan.budget,
        list(plan.kinds.iter().map(|kind| quoted(kind.name()))),
        list(plan.targets.iter().map(|target| quoted(target))),
        list(plan.reasons.iter().map(|reason| quoted(reason.as_str()))),
    );
    for fault in &plan.at {
        let _ = writeln!(
            out,
            "\n[[faults.at]]\ntask = {}\nsite = {}\nworker = {}\nkind = \"{}\"\nreason = \"{}\"\noccurrence = {}",
            quoted(&fault.task),
            quoted(&fault.site),
            quoted(&fault.worker),
            fault.kind.name(),
            fault.reason.as_str(),
            fault.occurrence
        );
    }
    for delay in &plan.delays {
        let _ = writeln!(
            out,
            "\n[[faults.delay]]\ntask = {}\nsite = {}\nsteps = {}",
            quoted(&delay.task),
            quoted(&delay.site),
            delay.steps
        );
    }
    out
}

/// The whole scenario as a file. A `[generate]` table is not written: render the workload an
/// execution drew into `tasks` first.
pub fn scenario(scenario: &Scenario) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "name = {}", quoted(&scenario.name));
    if !scenario.description.is_empty() {
        let _ = writeln!(out, "description = {}", quoted(&scenario.description));
    }
    // A TOML integer stops at i64::MAX; larger seeds are written as a hex string.
    match i64::try_from(scenario.seed) {
        Ok(seed) => writeln!(out, "seed = {seed}"),
        Err(_) => writeln!(out, "seed = \"{:#x}\"", scenario.seed),
    }
    .ok();
    let _ = writeln!(out, "namespace = {}", quoted(&scenario.namespace));
    let _ = writeln!(
        out,
        "invariants = {}\n",
        list(scenario.invariants.iter().map(|inv| quoted(inv.name())))
    );
    out.push_str(&strategy(scenario));
    out.push('\n');
    out.push_str(&tasks(&scenario.tasks));
    if scenario.faults != FaultPlan::default() {
        out.push_str(&faults(&scenario.faults));
    }
    if let Some(mutant) = &scenario.mutant {
        let _ = writeln!(
            out,
            "\n[mutant]\npatch = {}\ninvariant = \"{}\"",
            quoted(&mutant.patch),
            mutant.invariant
        );
    }
    match &scenario.expect {
        Expect::Pass => out.push_str("\n[expect]\noutcome = \"pass\"\n"),
        Expect::Fail { invariant } => {
            let _ = write!(
                out,
                "\n[expect]\noutcome = \"fail\"\ninvariant = \"{invariant}\"\n"
            );
        }
    }
    if let Some(certify) = &scenario.certify {
        let _ = writeln!(
            out,
            "certify = {{ preemptions = {}, faults = {} }}",
            certify.preemptions, certify.faults
        );
    }
    for pinned in &scenario.pinned {
        let _ = write!(
            out,
            "\n[[expect.schedule]]\nschedule = {}\n",
            quoted(&pinned.encode())
        );
    }
    out
}
