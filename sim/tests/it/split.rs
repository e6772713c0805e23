//! A systematic search split at a depth (`vigil_sim::Split`): above the depth every
//! alternative is explored, below it each unit runs DFS or DPOR on its own. Split DPOR must
//! reach every terminal state exhaustive DFS reaches (soundness), split DFS must run
//! exactly the executions of whole DFS, and a split search certifies only when exhausted.

use std::collections::BTreeSet;

use vigil_sim::{Below, Dfs, Report, Split, StopReason, Strategy, run};

use super::dpor::{
    VictimFaults, config, exhausted, lock_and_try_lock, locked_counter, states, states_with_faults,
    store_ring, victim_and_bystander, writers_and_reader,
};
use super::models::check_then_act;

fn dpor(preemptions_max: u32, faults_max: u32, depth: u32) -> Split {
    let below = Below::Dpor {
        preemptions_max,
        faults_max,
    };
    Split::new(below, depth)
}

fn missed(within: &BTreeSet<String>, reached: &BTreeSet<String>) -> Vec<String> {
    within.difference(reached).cloned().collect()
}

#[test]
fn split_dpor_reaches_every_terminal_state_of_exhaustive_dfs() {
    type Model = fn() -> Box<dyn Fn() + Send + Sync>;
    let models: [(&str, Model); 4] = [
        ("writers_and_reader", || Box::new(writers_and_reader())),
        ("locked_counter", || Box::new(locked_counter(3))),
        ("lock_and_try_lock", || Box::new(lock_and_try_lock())),
        ("store_ring", || Box::new(store_ring())),
    ];
    for (name, model) in models {
        for bound in [1, 2, u32::MAX] {
            let (dfs, within) = states(&mut Dfs::new(bound), model());
            exhausted(&dfs);
            for depth in 1..=3 {
                let (split, reached) = states(&mut dpor(bound, 0, depth), model());
                exhausted(&split);
                assert!(
                    reached.is_superset(&within),
                    "{name}, bound {bound}, depth {depth}: split DPOR missed {:?}",
                    missed(&within, &reached)
                );
                assert!(
                    within.is_superset(&reached),
                    "{name}, bound {bound}, depth {depth}: split DPOR invented states"
                );
            }
        }
    }
}

#[test]
fn split_dpor_with_faults_reaches_every_terminal_state_of_exhaustive_dfs() {
    for bound in [0, 1, u32::MAX] {
        let faults = || VictimFaults { fired: false };
        let (dfs, within) =
            states_with_faults(&mut Dfs::new(bound), faults(), victim_and_bystander());
        exhausted(&dfs);
        for depth in 1..=3 {
            let (split, reached) =
                states_with_faults(&mut dpor(bound, 1, depth), faults(), victim_and_bystander());
            exhausted(&split);
            assert_eq!(
                reached,
                within,
                "bound {bound}, depth {depth}: split DPOR missed {:?}",
                missed(&within, &reached)
            );
        }
    }
}

/// The schedules of every execution of a search, in order.
fn schedules(strategy: &mut dyn Strategy) -> Vec<String> {
    let mut runner = vigil_sim::Runner::new(config(100_000));
    let seen = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
    let log = seen.clone();
    runner = runner.after_execution(move |_, schedule| log.borrow_mut().push(schedule.encode()));
    let report = runner.run(strategy, writers_and_reader());
    exhausted(&report);
    seen.take()
}

#[test]
fn split_dfs_runs_the_executions_of_whole_dfs_in_the_same_order() {
    // DFS explores the first alternative first at every choice point, so the units, in the
    // order of the upper tree, are the whole search cut into consecutive pieces.
    let whole = schedules(&mut Dfs::new(2));
    for depth in 0..=4 {
        let split = schedules(&mut Split::new(Below::Dfs { preemptions_max: 2 }, depth));
        assert_eq!(split, whole, "depth {depth}");
    }
}

fn coverage_of(split: &Split, report: &Report) -> vigil_sim::Coverage {
    assert!(report.failure().is_none());
    split.coverage().expect("split DPOR reports coverage")
}

#[test]
fn a_split_search_certifies_only_when_every_unit_was_exhausted() {
    let mut full = dpor(2, 0, 2);
    let report = run(&config(100_000), &mut full, check_then_act(true));
    let executions = exhausted(&report);
    let coverage = coverage_of(&full, &report);
    assert!(coverage.exhaustive);
    assert_eq!(coverage.open_branches, 0);
    // Cut after every prefix of the search: never exhaustive, always something open.
    for budget in 1..executions {
        let mut cut = dpor(2, 0, 2);
        let short = run(&config(budget), &mut cut, check_then_act(true));
        assert_eq!(short.stats().unwrap().stop, StopReason::ExecutionsDone);
        let coverage = coverage_of(&cut, &short);
        assert!(!coverage.exhaustive, "cut at {budget} of {executions}");
        assert!(
            coverage.open_branches > 0,
            "cut at {budget} of {executions}"
        );
    }
}
