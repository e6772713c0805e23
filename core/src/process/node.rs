//! The node: a process table plus the runner task that activates processes.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fmt;
use std::sync::Arc;

use super::{Behaviour, ExitReason, Message, Outcome, Pid, ProcessError};
use crate::census::Census;
use crate::rt::{self, TaskId};
use crate::sync::{Mutex, Receiver, Sender, TrySendError, channel};
use crate::thread::{self, JoinHandle};

/// One process table and its runner task. Dropping the node stops and joins the runner.
pub struct Node {
    shared: Arc<Shared>,
    runner: Option<JoinHandle<()>>,
    runner_id: TaskId,
}

struct Shared {
    name: &'static str,
    census: Arc<Census>,
    table: Mutex<Table>,
    doorbell: Sender<()>,
}

/// How many exits a node remembers (name and reason), newest first out of the window last.
/// The table of live processes is what the node needs to work; exit records only answer
/// [`Node::exit_reason`] and observers. Keeping every one of them grew a node by one record
/// per process that ever ran (a leak under registration churn), so only the most recent are
/// kept; an older exit is still known to be an exit, because pids are never reused.
pub const EXIT_RECORDS_MAX: usize = 64;

#[derive(Default)]
struct Table {
    next_pid: u64,
    processes: BTreeMap<Pid, Process>,
    /// The most recent exits, oldest first, at most [`EXIT_RECORDS_MAX`].
    exits: VecDeque<(Pid, &'static str, ExitReason)>,
    run_queue: VecDeque<Pid>,
    shutdown: bool,
    /// Set by the runner when it found nothing to run and is about to wait for its
    /// doorbell; whoever queues work next rings once and clears it. While the runner is
    /// busy nobody rings: it takes all queued work before it waits again.
    runner_waiting: bool,
}

struct Process {
    name: &'static str,
    /// The part of a simulated system this process belongs to (`rt::owner` at spawn).
    owner: u64,
    trap_exit: bool,
    links: BTreeSet<Pid>,
    mailbox: VecDeque<Message>,
    /// `None` while the runner is activating the process.
    behaviour: Option<Box<dyn Behaviour>>,
    queued: bool,
}

/// The sizes of a node's tables, read by observers that check nothing accumulates.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct NodeCensus {
    /// Live processes.
    pub processes: usize,
    /// Remembered exits (at most [`EXIT_RECORDS_MAX`]).
    pub exit_records: usize,
    /// Messages waiting in mailboxes, over all live processes.
    pub queued_messages: usize,
    /// Pids waiting in the run queue.
    pub run_queue: usize,
}

/// What a behaviour can do while it is being activated.
pub struct ProcessContext<'a> {
    node: &'a Shared,
    pid: Pid,
}

impl fmt::Debug for ProcessContext<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProcessContext")
            .field("pid", &self.pid)
            .finish()
    }
}

impl ProcessContext<'_> {
    pub fn pid(&self) -> Pid {
        self.pid
    }

    /// Whether the running process is still alive: another task may terminate it while an
    /// activation runs, and the runner finishes that activation either way.
    pub fn is_alive(&self) -> bool {
        self.node.table.lock().processes.contains_key(&self.pid)
    }

    /// Links the running process to `other` (see [`Node::link`]).
    pub fn link(&self, other: Pid) -> Result<(), ProcessError> {
        self.node.link(self.pid, other)
    }
}

impl Node {
    /// Creates a node and spawns its runner task (named `<name>-runner`).
    pub fn new(name: &'static str) -> Node {
        let (doorbell, ring) = channel("node.doorbell", 1);
        let shared = Arc::new(Shared {
            name,
            census: Arc::default(),
            table: Mutex::named("node.table", Table::default()),
            doorbell,
        });
        let runner_shared = shared.clone();
        let runner = thread::spawn(&format!("{name}-runner"), move || {
            run(&runner_shared, &ring)
        });
        Node {
            shared,
            runner_id: runner.id(),
            runner: Some(runner),
        }
    }

    pub fn name(&self) -> &'static str {
        self.shared.name
    }

    /// Live counts of the pool structures that live on this node.
    pub fn census(&self) -> &Arc<Census> {
        &self.shared.census
    }

    /// Spawns a process; with `trap_exit` it receives exits as messages from the start.
    ///
    /// The process belongs to the caller's owner (`rt::owner`): a simulator that kills that
    /// owner ends it.
    pub fn spawn(
        &self,
        name: &'static str,
        behaviour: Box<dyn Behaviour>,
        trap_exit: bool,
    ) -> Result<Pid, ProcessError> {
        self.spawn_for(rt::owner(), name, behaviour, trap_exit, &[])
    }

    /// Spawns a process already linked to each of `links`, as one step: either every one
    /// of them is alive and the new process is linked to all, or none is touched and the
    /// process is never created (`NoProc` names a dead one). Spawning first and linking after
    /// would let a link target die in between, leaving a process to terminate again.
    pub fn spawn_linked(
        &self,
        name: &'static str,
        behaviour: Box<dyn Behaviour>,
        trap_exit: bool,
        links: &[Pid],
    ) -> Result<Pid, ProcessError> {
        self.spawn_for(rt::owner(), name, behaviour, trap_exit, links)
    }

    /// Spawns a process that serves the whole node (a channel's actor) rather than whoever
    /// happened to need it first, so no owner's death ends it.
    pub fn spawn_shared(
        &self,
        name: &'static str,
        behaviour: Box<dyn Behaviour>,
        trap_exit: bool,
    ) -> Result<Pid, ProcessError> {
        self.spawn_for(0, name, behaviour, trap_exit, &[])
    }

    fn spawn_for(
        &self,
        owner: u64,
        name: &'static str,
        behaviour: Box<dyn Behaviour>,
        trap_exit: bool,
        links: &[Pid],
    ) -> Result<Pid, ProcessError> {
        // The guard is a local and `behaviour` a parameter: on an early return the lock is
        // released before the behaviour is dropped (its destructor may use the scheduler).
        let mut table = self.shared.table.lock();
        if table.shutdown {
            return Err(ProcessError::NodeDown(self.shared.name));
        }
        if let Some(&dead) = links.iter().find(|pid| !table.processes.contains_key(pid)) {
            return Err(ProcessError::NoProc(dead));
        }
        table.next_pid += 1;
        let pid = Pid(table.next_pid);
        for other in links {
            if let Some(process) = table.processes.get_mut(other) {
                process.links.insert(pid);
            }
        }
        table.processes.insert(
            pid,
            Process {
                name,
                owner,
                trap_exit,
                links: links.iter().copied().collect(),
                mailbox: VecDeque::new(),
                behaviour: Some(behaviour),
                queued: false,
            },
        );
        Ok(pid)
    }

    /// Links `a` and `b` both ways. Fails with `NoProc` when either is unknown or has exited;
    /// linking a process to itself does nothing.
    pub fn link(&self, a: Pid, b: Pid) -> Result<(), ProcessError> {
        self.shared.link(a, b)
    }

    /// Queues `message` for `pid`. Messages to exited or unknown pids are dropped, as in
    /// Erlang; the return value says whether the message was queued.
    pub fn send(&self, pid: Pid, message: Message) -> bool {
        self.shared.deliver(pid, message)
    }

    /// Ends `pid` with `reason` from the host side and propagates the exit along its links.
    /// Does nothing (returns `false`) when the pid has already exited or is unknown.
    pub fn terminate(&self, pid: Pid, reason: ExitReason) -> bool {
        self.shared.terminate(pid, reason)
    }

    /// Ends every live process spawned for `owner` (see `rt::Scheduler::owner`) with
    /// `reason`, each through [`Node::terminate`], and returns how many it ended. Owner 0
    /// means "no owner" and ends nothing: a simulator kills one part of a system, never all.
    pub fn terminate_owned(&self, owner: u64, reason: ExitReason) -> usize {
        if owner == 0 {
            return 0;
        }
        let owned: Vec<Pid> = self
            .shared
            .table
            .lock()
            .processes
            .iter()
            .filter(|(_, process)| process.owner == owner)
            .map(|(pid, _)| *pid)
            .collect();
        owned
            .into_iter()
            .filter(|pid| self.terminate(*pid, reason))
            .count()
    }

    pub fn is_alive(&self, pid: Pid) -> bool {
        self.shared.table.lock().processes.contains_key(&pid)
    }

    /// The exit reason of a pid that has exited, while the node still remembers it (one of
    /// the last [`EXIT_RECORDS_MAX`] exits).
    pub fn exit_reason(&self, pid: Pid) -> Option<ExitReason> {
        self.shared
            .table
            .lock()
            .exit_record(pid)
            .map(|(_, reason)| reason)
    }

    /// The sizes of the node's tables, without scheduling points (`None` while the table is
    /// locked).
    pub fn peek_census(&self) -> Option<NodeCensus> {
        self.shared.table.peek(|table| NodeCensus {
            processes: table.processes.len(),
            exit_records: table.exits.len(),
            queued_messages: table.processes.values().map(|p| p.mailbox.len()).sum(),
            run_queue: table.run_queue.len(),
        })
    }

    /// Live pids and their names, without scheduling points (`None` while the table is locked).
    pub fn peek_processes(&self) -> Option<Vec<(Pid, &'static str)>> {
        self.shared.table.peek(|table| {
            table
                .processes
                .iter()
                .map(|(pid, process)| (*pid, process.name))
                .collect()
        })
    }

    /// Runs `read` over a read-only view of the process table, without scheduling points
    /// (`None` while the table is locked): one look for many questions.
    pub fn peek_view<R>(&self, read: impl FnOnce(&NodeView<'_>) -> R) -> Option<R> {
        self.shared.table.peek(|table| read(&NodeView { table }))
    }

    /// Whether `pid` is alive, without scheduling points (`None` while the table is locked).
    pub fn peek_alive(&self, pid: Pid) -> Option<bool> {
        self.shared
            .table
            .peek(|table| table.processes.contains_key(&pid))
    }
}

/// The process table as an observer reads it inside [`Node::peek_view`].
pub struct NodeView<'a> {
    table: &'a Table,
}

impl NodeView<'_> {
    pub fn alive(&self, pid: Pid) -> bool {
        self.table.processes.contains_key(&pid)
    }

    /// The name of a live process.
    pub fn name(&self, pid: Pid) -> Option<&'static str> {
        self.table.processes.get(&pid).map(|process| process.name)
    }

    /// How many live processes are named `name`.
    pub fn count_named(&self, name: &str) -> usize {
        let processes = self.table.processes.values();
        processes.filter(|process| process.name == name).count()
    }

    /// Whether live processes `a` and `b` are linked.
    pub fn linked(&self, a: Pid, b: Pid) -> bool {
        self.table
            .processes
            .get(&a)
            .is_some_and(|process| process.links.contains(&b))
    }

    /// The live processes linked to `pid`, ascending (none once it has exited).
    pub fn links(&self, pid: Pid) -> impl Iterator<Item = Pid> + '_ {
        self.table
            .processes
            .get(&pid)
            .into_iter()
            .flat_map(|process| process.links.iter().copied())
    }
}

impl fmt::Debug for NodeView<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NodeView")
            .field("processes", &self.table.processes.len())
            .finish_non_exhaustive()
    }
}

impl Shared {
    fn link(&self, a: Pid, b: Pid) -> Result<(), ProcessError> {
        let mut table = self.table.lock();
        for pid in [a, b] {
            if !table.processes.contains_key(&pid) {
                return Err(ProcessError::NoProc(pid));
            }
        }
        if a != b {
            for (from, to) in [(a, b), (b, a)] {
                if let Some(process) = table.processes.get_mut(&from) {
                    process.links.insert(to);
                }
            }
        }
        Ok(())
    }

    fn deliver(&self, pid: Pid, message: Message) -> bool {
        let (queued, wake) = {
            let mut table = self.table.lock();
            let queued = table.push_message(pid, message);
            (queued, queued && table.wake_runner())
        };
        if wake {
            self.ring();
        }
        queued
    }

    fn ring(&self) {
        match self.doorbell.try_send(()) {
            Ok(()) | Err(TrySendError::Full(())) => {}
            Err(TrySendError::Disconnected(())) => {}
        }
    }

    fn terminate(&self, pid: Pid, reason: ExitReason) -> bool {
        let mut dropped: Vec<Box<dyn Behaviour>> = Vec::new();
        let (found, wake) = {
            let mut table = self.table.lock();
            let (found, queued) = table.terminate(pid, reason, &mut dropped);
            (found, queued && table.wake_runner())
        };
        if wake {
            self.ring();
        }
        // Behaviours are dropped outside the table lock: their destructors may use the
        // scheduler (drop a channel sender, say).
        drop(dropped);
        found
    }
}

impl Table {
    fn record_exit(&mut self, pid: Pid, name: &'static str, reason: ExitReason) {
        if self.exits.len() == EXIT_RECORDS_MAX {
            self.exits.pop_front();
        }
        self.exits.push_back((pid, name, reason));
    }

    fn exit_record(&self, pid: Pid) -> Option<(&'static str, ExitReason)> {
        self.exits
            .iter()
            .rev()
            .find(|(exited, _, _)| *exited == pid)
            .map(|(_, name, reason)| (*name, *reason))
    }

    /// Queues a message and schedules the process; `false` when the pid is gone.
    fn push_message(&mut self, pid: Pid, message: Message) -> bool {
        let Some(process) = self.processes.get_mut(&pid) else {
            return false;
        };
        process.mailbox.push_back(message);
        if !process.queued {
            process.queued = true;
            self.run_queue.push_back(pid);
        }
        true
    }
}

/// The runner: activates queued processes one message at a time until shutdown.
///
/// Returning an activated process's behaviour (and ending the process when it asked to
/// stop) and taking the next message are one critical section: one lock per message, and no
/// other task can tell that the runner ever held the two apart. When there is nothing to
/// take, the same critical section sets `runner_waiting` before the runner waits on its
/// doorbell, so whoever queues work next rings it exactly once (see `Table::wake_runner`).
fn run(shared: &Shared, ring: &Receiver<()>) {
    let mut finished: Option<(Pid, Box<dyn Behaviour>, Outcome)> = None;
    loop {
        let mut dropped: Vec<Box<dyn Behaviour>> = Vec::new();
        let next = {
            let mut table = shared.table.lock();
            if let Some((pid, behaviour, outcome)) = finished.take() {
                dropped.extend(table.put_back(pid, behaviour));
                if let Outcome::Stop(reason) = outcome {
                    // Exit messages this queues are taken below or on a later turn of this
                    // loop, before the runner waits: no need to ring its own doorbell.
                    table.terminate(pid, reason, &mut dropped);
                }
            }
            if table.shutdown {
                None
            } else {
                let next = table.take_next();
                table.runner_waiting = next.is_none();
                Some(next)
            }
        };
        // Behaviours are dropped outside the table lock (see `Shared::terminate`).
        drop(dropped);
        let Some(next) = next else {
            return;
        };
        let Some((pid, mut behaviour, message)) = next else {
            if ring.recv().is_err() {
                return;
            }
            continue;
        };
        let outcome = behaviour.handle(&ProcessContext { node: shared, pid }, message);
        finished = Some((pid, behaviour, outcome));
    }
}

impl Table {
    /// Whether work just queued must ring the runner's doorbell: only when the runner said
    /// it would wait for it, and only once.
    fn wake_runner(&mut self) -> bool {
        std::mem::take(&mut self.runner_waiting)
    }

    /// Ends `pid` and propagates its exit along links: linked processes that trap exits get
    /// a message, the others end too unless the exit is normal. The behaviours of the ended
    /// processes go to `dropped`, for the caller to drop outside the lock. Returns whether
    /// `pid` was alive, and whether a message was queued (the runner may need waking).
    fn terminate(
        &mut self,
        pid: Pid,
        reason: ExitReason,
        dropped: &mut Vec<Box<dyn Behaviour>>,
    ) -> (bool, bool) {
        let mut pending = vec![(pid, reason)];
        let mut found = false;
        let mut queued = false;
        while let Some((pid, reason)) = pending.pop() {
            let Some(process) = self.processes.remove(&pid) else {
                continue;
            };
            found = true;
            self.record_exit(pid, process.name, reason);
            self.run_queue.retain(|queued| *queued != pid);
            dropped.extend(process.behaviour);
            let signal = reason.propagated();
            for linked in process.links {
                let Some(peer) = self.processes.get_mut(&linked) else {
                    continue;
                };
                peer.links.remove(&pid);
                if peer.trap_exit {
                    queued |= self.push_message(
                        linked,
                        Message::Exit {
                            from: pid,
                            reason: signal,
                        },
                    );
                } else if !signal.is_normal() {
                    pending.push((linked, signal));
                }
            }
        }
        (found, queued)
    }

    fn take_next(&mut self) -> Option<(Pid, Box<dyn Behaviour>, Message)> {
        while let Some(pid) = self.run_queue.pop_front() {
            let Some(process) = self.processes.get_mut(&pid) else {
                continue;
            };
            process.queued = false;
            let Some(message) = process.mailbox.pop_front() else {
                continue;
            };
            let behaviour = process
                .behaviour
                .take()
                .expect("[internal bug] a queued process is already running");
            return Some((pid, behaviour, message));
        }
        None
    }

    /// Returns the behaviour to its process, or hands it back when the process exited while
    /// it ran (the caller drops it outside the lock).
    fn put_back(&mut self, pid: Pid, behaviour: Box<dyn Behaviour>) -> Option<Box<dyn Behaviour>> {
        let Some(process) = self.processes.get_mut(&pid) else {
            return Some(behaviour);
        };
        process.behaviour = Some(behaviour);
        if !process.mailbox.is_empty() && !process.queued {
            process.queued = true;
            self.run_queue.push_back(pid);
        }
        None
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let processes = {
            let mut table = self.shared.table.lock();
            table.shutdown = true;
            std::mem::take(&mut table.processes)
        };
        self.shared.ring();
        // Process behaviours may own handles into other nodes; drop them outside the lock.
        drop(processes);
        if let Some(runner) = self.runner.take() {
            // A node whose last handle is dropped by its own runner cannot join itself.
            if rt::current().current() != self.runner_id {
                let _ = runner.join();
            }
        }
    }
}

impl fmt::Debug for Node {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Node")
            .field("name", &self.shared.name)
            .finish_non_exhaustive()
    }
}
