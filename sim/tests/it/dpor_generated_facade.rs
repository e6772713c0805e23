//! Bounded DPOR against bounded DFS on generated programs over the `std`-shaped facade: what
//! a loom or shuttle model uses once its imports are changed. `dpor_generated` covers core's
//! atomics and mutexes; here each task mixes atomic loads, stores, swaps and compare-exchanges,
//! mutex sections entered by `lock` or `try_lock`, reader-writer sections (`read`, `write`,
//! `try_read`, `try_write`), sends on an unbounded channel, `try_send` on a one-slot channel,
//! dropping the task's channel ends early, a `OnceLock`, named steps of the task's own, and
//! (task 0 only) `try_recv` on both channels, which tells an empty channel from one whose
//! senders are all gone. Every operation that cannot
//! block forever is in; a blocking receive or a condvar wait is not, since a generated program
//! would deadlock in some orders and a failing execution ends the search. Half of the programs
//! also carry a fault that panics task 0 (at its next named step or receive, where the
//! executor lands injected panics), releasing what it holds as it unwinds.
//!
//! At every bound from 0 to 2, DPOR must reach each terminal state DFS reaches. (Without a
//! bound DFS is out of reach here: 37,744 executions for three tasks of one or two steps
//! without the fault, more than 200,000 with it, against 40 and 197 for DPOR.) Each operation's race is reversed by its own rule
//! (a lock's at the acquire, a read lock's as a read, a `try_*` where it happened), so a rule
//! that is wrong for one primitive shows here as a terminal state DPOR never reaches.

use std::collections::BTreeSet;
use std::sync::Arc;

use rand_chacha::ChaCha8Rng;
use rand_core::SeedableRng;
use vigil_sim::sync::atomic::{AtomicU32, Ordering};
use vigil_sim::sync::mpsc::{self, Receiver, Sender, SyncSender, TryRecvError};
use vigil_sim::sync::{Mutex, OnceLock, RwLock};
use vigil_sim::{Dfs, Dpor, Strategy, thread};

use super::dpor::{exhausted, record, states, states_with_faults};
use super::dpor_generated::{below, seen, start_seen, take_seen};
use super::faults::PanicVictim;

/// One operation of a generated task.
#[derive(Clone, Debug)]
enum Step {
    Store(usize, u32),
    Load(usize),
    Swap(usize, u32),
    /// Compare-exchange of cell `.0` from `.1` to `.2`.
    Cas(usize, u32, u32),
    /// Under mutex `.0` (taken by `lock`): note the task in the mutex's list, then the body.
    Locked(usize, Vec<Step>),
    /// As `Locked`, entered by `try_lock`: the body runs only when it succeeded.
    TryLocked(usize, Vec<Step>),
    /// Under the reader-writer lock's read lock: note the length of its list, then the body.
    Read(Vec<Step>),
    /// Under its write lock: note the task in its list, then the body.
    Write(Vec<Step>),
    TryRead,
    TryWrite,
    Send(u32),
    TrySend(u32),
    /// Task 0 only: `try_recv` on the unbounded channel, then on the one-slot channel.
    TryRecv,
    /// Task 0: drop both receivers (later sends fail). Any other task: drop both senders
    /// (task 0 sees a channel disconnected once every sender is gone).
    DropEnds,
    OnceSet(u32),
    OnceGet,
    /// A named step of the task's own logic, where an injected panic lands.
    Work,
}

/// A generated program: the steps of each task, and whether a fault may panic task 0.
#[derive(Clone, Debug)]
struct Program {
    tasks: Vec<Vec<Step>>,
    fault: bool,
}

/// A step with no section: an atomic access.
fn atomic_step(rng: &mut ChaCha8Rng) -> Step {
    let cell = below(rng, 2) as usize;
    match below(rng, 4) {
        0 => Step::Store(cell, 1 + below(rng, 2)),
        1 => Step::Load(cell),
        2 => Step::Swap(cell, 1 + below(rng, 2)),
        _ => Step::Cas(cell, below(rng, 2), 1 + below(rng, 2)),
    }
}

/// The inside of a section: an atomic access or a named step.
fn body(rng: &mut ChaCha8Rng) -> Vec<Step> {
    (0..below(rng, 2))
        .map(|_| match below(rng, 3) {
            0 => Step::Work,
            _ => atomic_step(rng),
        })
        .collect()
}

fn step(rng: &mut ChaCha8Rng, task: usize) -> Step {
    match below(rng, 13) {
        0 | 1 => atomic_step(rng),
        2 => Step::Locked(below(rng, 2) as usize, body(rng)),
        3 => Step::TryLocked(below(rng, 2) as usize, body(rng)),
        4 => Step::Read(body(rng)),
        5 => Step::Write(body(rng)),
        6 => Step::TryRead,
        7 => Step::TryWrite,
        8 if task == 0 => Step::TryRecv,
        8 => Step::Send(1 + below(rng, 2)),
        9 if task == 0 => Step::TryRecv,
        9 => Step::TrySend(1 + below(rng, 2)),
        10 => Step::OnceSet(1 + below(rng, 2)),
        11 => Step::OnceGet,
        _ => Step::DropEnds,
    }
}

/// Two or three tasks of one to `steps_max` steps each.
fn program(seed: u64, steps_max: u32) -> Program {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let tasks = 2 + below(&mut rng, 2) as usize;
    let tasks = (0..tasks)
        .map(|task| {
            let steps = 1 + below(&mut rng, steps_max);
            (0..steps).map(|_| step(&mut rng, task)).collect()
        })
        .collect();
    Program {
        tasks,
        fault: seed % 2 == 1,
    }
}

/// The program's shared objects.
struct Shared {
    cells: [AtomicU32; 2],
    locks: [Mutex<Vec<usize>>; 2],
    rw: RwLock<Vec<usize>>,
    once: OnceLock<u32>,
}

/// The channels' ends a task holds: task 0 receives (and never sends, so it can see the
/// channels disconnected), every other task sends.
struct Ends {
    senders: Option<(Sender<u32>, SyncSender<u32>)>,
    receivers: Option<(Receiver<u32>, Receiver<u32>)>,
}

/// What a `try_recv` saw: the value, 0 for empty, 100 for disconnected.
fn received(result: Result<u32, TryRecvError>) -> u32 {
    match result {
        Ok(value) => value,
        Err(TryRecvError::Empty) => 0,
        Err(TryRecvError::Disconnected) => 100,
    }
}

fn run_steps(shared: &Shared, ends: &mut Ends, task: usize, steps: &[Step]) {
    for step in steps {
        match step {
            Step::Store(cell, value) => shared.cells[*cell].store(*value, Ordering::SeqCst),
            Step::Load(cell) => seen(task, shared.cells[*cell].load(Ordering::SeqCst)),
            Step::Swap(cell, value) => {
                seen(task, shared.cells[*cell].swap(*value, Ordering::SeqCst));
            }
            Step::Cas(cell, from, to) => {
                let result = shared.cells[*cell].compare_exchange(
                    *from,
                    *to,
                    Ordering::SeqCst,
                    Ordering::SeqCst,
                );
                seen(task, result.map_or_else(|now| 10 + now, |_| 1));
            }
            Step::Locked(lock, inner) => {
                let mut order = shared.locks[*lock].lock().unwrap();
                order.push(task);
                run_steps(shared, ends, task, inner);
            }
            Step::TryLocked(lock, inner) => match shared.locks[*lock].try_lock() {
                Ok(mut order) => {
                    seen(task, 1);
                    order.push(task);
                    run_steps(shared, ends, task, inner);
                }
                Err(_) => seen(task, 0),
            },
            Step::Read(inner) => {
                let list = shared.rw.read().unwrap();
                seen(task, list.len() as u32);
                run_steps(shared, ends, task, inner);
            }
            Step::Write(inner) => {
                let mut list = shared.rw.write().unwrap();
                list.push(task);
                run_steps(shared, ends, task, inner);
            }
            Step::TryRead => seen(task, shared.rw.try_read().map_or(99, |l| l.len() as u32)),
            Step::TryWrite => match shared.rw.try_write() {
                Ok(mut list) => {
                    seen(task, 1);
                    list.push(task);
                }
                Err(_) => seen(task, 0),
            },
            // Fails once task 0, the receiver, has panicked or dropped its ends (200: this
            // task dropped its own).
            Step::Send(value) => seen(
                task,
                ends.senders
                    .as_ref()
                    .map_or(200, |(tx, _)| u32::from(tx.send(*value).is_ok())),
            ),
            Step::TrySend(value) => seen(
                task,
                ends.senders
                    .as_ref()
                    .map_or(200, |(_, tx)| u32::from(tx.try_send(*value).is_ok())),
            ),
            Step::TryRecv => match ends.receivers.as_ref() {
                Some((unbounded, slot)) => {
                    seen(task, received(unbounded.try_recv()));
                    seen(task, received(slot.try_recv()));
                }
                None => seen(task, 300),
            },
            Step::DropEnds if task == 0 => drop(ends.receivers.take()),
            Step::DropEnds => drop(ends.senders.take()),
            Step::OnceSet(value) => seen(task, u32::from(shared.once.set(*value).is_ok())),
            Step::OnceGet => seen(task, shared.once.get().copied().unwrap_or(0)),
            Step::Work => vigil_core::rt::step("work"),
        }
    }
}

/// The program as a model. Its terminal state is what every task saw, whether task 0 was
/// panicked, the final values, the order of each lock's holders, what is left in the
/// channels and the once-cell's value.
fn model(program: &Program) -> impl Fn() + Send + Sync + 'static {
    let program = Arc::new(program.tasks.clone());
    move || {
        start_seen(program.len());
        let shared = Arc::new(Shared {
            cells: [AtomicU32::new(0), AtomicU32::new(0)],
            locks: [Mutex::new(Vec::new()), Mutex::new(Vec::new())],
            rw: RwLock::new(Vec::new()),
            once: OnceLock::new(),
        });
        let (unbounded, unbounded_rx) = mpsc::channel();
        let (slot, slot_rx) = mpsc::sync_channel(1);
        let mut receivers = Some((unbounded_rx, slot_rx));
        let handles: Vec<_> = (0..program.len())
            .map(|task| {
                let mut ends = Ends {
                    senders: (task != 0).then(|| (unbounded.clone(), slot.clone())),
                    receivers: if task == 0 { receivers.take() } else { None },
                };
                let (shared, program) = (shared.clone(), program.clone());
                let name = if task == 0 { "victim" } else { "task" };
                thread::Builder::new()
                    .name(name.to_owned())
                    .spawn(move || {
                        run_steps(&shared, &mut ends, task, &program[task]);
                        ends.receivers
                    })
                    .unwrap()
            })
            .collect();
        drop((unbounded, slot));
        // Every task has ended before the channels are drained.
        let results: Vec<_> = handles.into_iter().map(|handle| handle.join()).collect();
        let panicked = results[0].is_err();
        let mut left = Vec::new();
        if let Some(Ok(Some((unbounded, slot)))) = results.into_iter().next() {
            left.extend(unbounded.try_iter());
            left.push(99);
            left.extend(slot.try_iter());
        }
        let cells = [0, 1].map(|k| shared.cells[k].load(Ordering::SeqCst));
        let orders = [0, 1].map(|k| shared.locks[k].lock().unwrap().clone());
        let rw = shared.rw.read().unwrap().clone();
        let once = shared.once.get().copied();
        let seen = take_seen();
        record(format!(
            "{seen:?} panicked={panicked} {cells:?} {orders:?} {rw:?} left={left:?} once={once:?}"
        ));
    }
}

/// The terminal states `strategy` reaches on `program` (with its fault, if it has one), and
/// the executions it took to exhaust its search.
fn reach(strategy: &mut dyn Strategy, program: &Program) -> (u64, BTreeSet<String>) {
    let (report, reached) = if program.fault {
        states_with_faults(strategy, PanicVictim { fired: false }, model(program))
    } else {
        states(strategy, model(program))
    };
    (exhausted(&report), reached)
}

/// Hand-picked programs the generator rarely makes, numbered from 1000 (after the generated
/// ones). With a fault: task 0 panics inside a section while task 1 tries to enter it, so the
/// release made while unwinding decides whether the try succeeds. Without: a channel end's
/// drop (early, or when the task ends) is the only thing ordered against the other side's
/// operation, so the order of that drop alone decides what task 0 receives or a send returns.
fn hand_picked() -> impl Iterator<Item = (u64, Program)> {
    use Step::{DropEnds, Locked, Read, Send, TryLocked, TryRead, TryRecv, TryWrite, Work, Write};
    let unwinding = [
        vec![vec![Locked(0, vec![Work])], vec![TryLocked(0, vec![])]],
        vec![vec![Write(vec![Work])], vec![TryRead]],
        vec![vec![Read(vec![Work])], vec![TryWrite]],
    ];
    let ends = [
        vec![vec![TryRecv], vec![Work]],
        vec![vec![TryRecv], vec![DropEnds, Work]],
        vec![vec![TryRecv], vec![Work], vec![Work]],
        vec![vec![Work, TryRecv], vec![Send(1), DropEnds], vec![Work]],
        vec![vec![TryRecv, DropEnds], vec![Send(1), Send(2)]],
    ];
    let unwinding = unwinding.into_iter().map(|tasks| (tasks, true));
    let ends = ends.into_iter().map(|tasks| (tasks, false));
    unwinding
        .chain(ends)
        .zip(1000..)
        .map(|((tasks, fault), seed)| (seed, Program { tasks, fault }))
}

#[test]
fn bounded_dpor_covers_what_bounded_dfs_covers_on_generated_facade_programs() {
    let (mut dfs_total, mut dpor_total) = (0, 0);
    let mut faulted = 0;
    for (seed, program) in (0..60)
        .map(|seed| (seed, program(seed, 3)))
        .chain(hand_picked())
    {
        for bound in 0..=2 {
            let (dfs_runs, within) = reach(&mut Dfs::new(bound), &program);
            let (dpor_runs, reached) = reach(&mut Dpor::new(bound, 1), &program);
            (dfs_total, dpor_total) = (dfs_total + dfs_runs, dpor_total + dpor_runs);
            let missed: BTreeSet<_> = within.difference(&reached).collect();
            assert!(
                missed.is_empty(),
                "program {seed} {program:?}, bound {bound}: DPOR ({dpor_runs} executions) \
                 missed {missed:?} that DFS ({dfs_runs} executions) reached"
            );
            faulted += within
                .iter()
                .filter(|s| s.contains("panicked=true"))
                .count();
        }
    }
    // The comparison means something only if DPOR reduced and the faults fired.
    assert!(dpor_total < dfs_total, "{dpor_total} vs {dfs_total}");
    assert!(faulted > 0, "no generated fault ever fired");
}
