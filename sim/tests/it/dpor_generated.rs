//! Bounded DPOR against bounded DFS on generated programs: three or four tasks, each a few
//! atomic accesses and critical sections over two atomics and two mutexes, compared at
//! preemption bounds 0 to 2. DPOR must reach every terminal state DFS reaches at the same
//! bound (it may reach more: a reduced search is free to cover orders beyond the bound).
//!
//! Hand-written models test one mechanism each; these catch the interactions nobody wrote
//! down (a race reversed at the wrong node, a fallback point left out, a task asleep whose
//! cover needs one preemption more than the bound allows).

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::sync::Arc;

use rand_chacha::ChaCha8Rng;
use rand_core::{RngCore, SeedableRng};
use vigil_core::sync::{AtomicU32, Mutex, Ordering};
use vigil_core::thread;
use vigil_sim::{Dfs, Dpor};

use super::dpor::{exhausted, states};

thread_local! {
    /// What each task of the running program observed, in order.
    static SEEN: RefCell<Vec<Vec<u32>>> = const { RefCell::new(Vec::new()) };
}

/// One operation of a generated task.
#[derive(Clone, Debug)]
enum Step {
    Store(usize, u32),
    Load(usize),
    Add(usize),
    /// Under mutex `.0`: note the task's number in the mutex's list, then the inner steps.
    Locked(usize, Vec<Step>),
}

/// A generated program: the steps of each task.
type Program = Vec<Vec<Step>>;

/// A number below `n` from the generator (shared with `dpor_generated_facade`).
pub(super) fn below(rng: &mut ChaCha8Rng, n: u32) -> u32 {
    rng.next_u32() % n
}

fn atomic_step(rng: &mut ChaCha8Rng) -> Step {
    let cell = below(rng, 2) as usize;
    match below(rng, 3) {
        0 => Step::Store(cell, 1 + below(rng, 3)),
        1 => Step::Load(cell),
        _ => Step::Add(cell),
    }
}

fn program(seed: u64) -> Program {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let tasks = 3 + below(&mut rng, 2) as usize;
    (0..tasks)
        .map(|_| {
            let steps = 1 + below(&mut rng, 3);
            (0..steps)
                .map(|_| match below(&mut rng, 3) {
                    0 => {
                        let inner = below(&mut rng, 3);
                        let body = (0..inner).map(|_| atomic_step(&mut rng)).collect();
                        Step::Locked(below(&mut rng, 2) as usize, body)
                    }
                    _ => atomic_step(&mut rng),
                })
                .collect()
        })
        .collect()
}

struct Shared {
    cells: [AtomicU32; 2],
    locks: [Mutex<Vec<usize>>; 2],
}

/// Notes what `task` observed (shared with `dpor_generated_facade`).
pub(super) fn seen(task: usize, value: u32) {
    SEEN.with(|seen| seen.borrow_mut()[task].push(value));
}

/// Starts an execution of a program of `tasks` tasks: nothing observed yet.
pub(super) fn start_seen(tasks: usize) {
    SEEN.with(|seen| *seen.borrow_mut() = vec![Vec::new(); tasks]);
}

/// What each task observed in the execution that just ended.
pub(super) fn take_seen() -> Vec<Vec<u32>> {
    SEEN.with(|seen| std::mem::take(&mut *seen.borrow_mut()))
}

fn run_steps(shared: &Shared, task: usize, steps: &[Step]) {
    for step in steps {
        match step {
            Step::Store(cell, value) => shared.cells[*cell].store(*value, Ordering::SeqCst),
            Step::Load(cell) => seen(task, shared.cells[*cell].load(Ordering::SeqCst)),
            Step::Add(cell) => seen(task, shared.cells[*cell].fetch_add(1, Ordering::SeqCst)),
            Step::Locked(lock, body) => {
                let mut order = shared.locks[*lock].lock();
                order.push(task);
                run_steps(shared, task, body);
                drop(order);
            }
        }
    }
}

/// The program as a model: its terminal state is what every task saw, the final values and
/// the order in which tasks held each mutex.
fn model(program: Program) -> impl Fn() + Send + Sync + 'static {
    let program = Arc::new(program);
    move || {
        start_seen(program.len());
        let shared = Arc::new(Shared {
            cells: [AtomicU32::named("a", 0), AtomicU32::named("b", 0)],
            locks: [Mutex::named("m", Vec::new()), Mutex::named("n", Vec::new())],
        });
        let handles: Vec<_> = (0..program.len())
            .map(|task| {
                let (shared, program) = (shared.clone(), program.clone());
                thread::spawn("task", move || run_steps(&shared, task, &program[task]))
            })
            .collect();
        for handle in handles {
            handle.join().unwrap();
        }
        let cells = [shared.cells[0].peek(), shared.cells[1].peek()];
        let orders = [
            shared.locks[0].peek(Vec::clone),
            shared.locks[1].peek(Vec::clone),
        ];
        let seen = take_seen();
        super::dpor::record(format!("{seen:?} {cells:?} {orders:?}"));
    }
}

#[test]
fn bounded_dpor_covers_what_bounded_dfs_covers_on_generated_programs() {
    let (mut dfs_total, mut dpor_total) = (0, 0);
    for seed in 0..40 {
        let program = program(seed);
        for bound in 0..=2 {
            let (dfs, within) = states(&mut Dfs::new(bound), model(program.clone()));
            let (dpor, reached) = states(&mut Dpor::new(bound, 0), model(program.clone()));
            let (dfs_runs, dpor_runs) = (exhausted(&dfs), exhausted(&dpor));
            (dfs_total, dpor_total) = (dfs_total + dfs_runs, dpor_total + dpor_runs);
            let missed: BTreeSet<_> = within.difference(&reached).collect();
            assert!(
                missed.is_empty(),
                "program {seed} {program:?}, bound {bound}: DPOR ({dpor_runs} executions) \
                 missed {missed:?} that DFS ({dfs_runs} executions) reached"
            );
        }
    }
    // The comparison means something only if DPOR did reduce.
    assert!(dpor_total < dfs_total, "{dpor_total} vs {dfs_total}");
}
