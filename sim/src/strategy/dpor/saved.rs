//! A search's state between two executions, written to and read from a checkpoint: the
//! stack of nodes with their explored, scheduled and sleeping actors, the actor table the
//! clocks index, the data choices and the counts. What lives only within one execution
//! (object histories, the cursor, the next sleep set) and how much of the stack the next
//! execution replays are set by the next `start`.

use std::collections::BTreeMap;
use std::rc::Rc;

use vigil_core::rt::TaskId;

use super::{Dpor, DporStats, Node, Origin, Sleeper};
use crate::dependency::{Access, Actor, LockRole, ObjectKey};
use crate::strategy::data::DataChoices;
use crate::wire::{Reader, Writer};

impl Dpor {
    /// Writes the search's state. Only between executions (after one ended, before the next
    /// starts) and only for a whole search (not a split unit).
    pub(crate) fn save(&self, out: &mut Writer) {
        assert!(
            self.forced.is_none() && self.floor == 0,
            "[internal bug] a split unit's search is not checkpointed"
        );
        out.u32(self.preemptions_max);
        out.u32(self.faults_max);
        out.u64(self.executions);
        out.bool(self.exhausted);
        out.u64(self.redundant);
        out.seq(&self.actors, actor);
        self.data.save(out);
        let stats = &self.stats;
        for count in [
            stats.sleep_blocked,
            stats.from_races,
            stats.from_last_switch,
            stats.from_fault_first,
            stats.fault_branches,
            stats.kept_awake,
            stats.from_kept_awake,
        ] {
            out.u64(count);
        }
        out.seq(&self.nodes, node);
    }

    /// The search [`Dpor::save`] wrote, for the bounds given (an error if it was saved with
    /// others, or if the bytes are not a saved search).
    pub(crate) fn restore(
        preemptions_max: u32,
        faults_max: u32,
        input: &mut Reader<'_>,
    ) -> Result<Dpor, String> {
        let saved = (input.u32("preemption bound")?, input.u32("fault bound")?);
        if saved != (preemptions_max, faults_max) {
            return Err(format!(
                "the search was saved with {} preemptions and {} faults, not {preemptions_max} and \
                 {faults_max}",
                saved.0, saved.1
            ));
        }
        let mut dpor = Dpor::new(preemptions_max, faults_max);
        dpor.executions = input.u64("executions")?;
        dpor.exhausted = input.bool("exhausted")?;
        dpor.redundant = input.u64("redundant executions")?;
        dpor.actors = input.seq("actors", read_actor)?;
        dpor.data = DataChoices::restore(input)?;
        let mut count = || input.u64("statistics");
        dpor.stats = DporStats {
            sleep_blocked: count()?,
            from_races: count()?,
            from_last_switch: count()?,
            from_fault_first: count()?,
            fault_branches: count()?,
            kept_awake: count()?,
            from_kept_awake: count()?,
        };
        let actors = dpor.actors.len();
        dpor.nodes = input.seq("nodes", |input| read_node(input, actors))?;
        // What the search will run again must be something that could run there: a damaged
        // file whose checksum still matches is refused here rather than replayed.
        for (idx, node) in dpor.nodes.iter().enumerate() {
            let explored = node.done.iter().map(|done| &done.actor);
            let runs = std::iter::once(&node.chosen)
                .chain(&node.backtrack)
                .chain(explored);
            if let Some(actor) = runs.into_iter().find(|actor| !node.enabled.contains(actor)) {
                return Err(format!(
                    "node {idx} runs {actor:?}, which could not run there: the search is corrupt"
                ));
            }
        }
        Ok(dpor)
    }
}

/// Where [`Dpor::split_off`] split a search: the node and the alternative handed over.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct HandOver {
    pub(crate) node: usize,
    pub(crate) actor: Actor,
}

impl Dpor {
    /// Splits the search's remaining work in two, between executions: the returned search
    /// explores the shallowest alternative still scheduled (of its node's, the one this
    /// search would have taken last) and everything its own executions schedule, and this
    /// one everything else. Neither reaches the other's scheduled alternatives again: each
    /// marks the other's as explored ([`GIVEN_AWAY`]), so they never sleep in its sleep sets.
    /// Alternatives both schedule later are explored twice, which costs executions but
    /// loses none; the bound is exhausted when both searches are.
    ///
    /// Refused without a preemption bound (a marked actor would sleep for ever) and while
    /// data choices are left to try (each part would search them all again).
    pub(crate) fn split_off(&mut self) -> Result<(Dpor, HandOver), String> {
        if self.preemptions_max == u32::MAX {
            return Err("a search without a preemption bound cannot be split".into());
        }
        if self.data.open() > 0 {
            return Err(format!(
                "the search has {} data choices left to try, and each part would search them all",
                self.data.open()
            ));
        }
        // An alternative asleep or explored at its node is dropped when the search reaches
        // it, so handing it over would hand over nothing.
        let live = |node: &Node, actor: &Actor| {
            !node
                .sleep
                .iter()
                .chain(&node.done)
                .any(|known| known.actor == *actor)
        };
        let nothing_left = "no alternative is left to hand over: the search is on its last branch";
        if self.exhausted {
            return Err(nothing_left.into());
        }
        let (node, actor) = (self.nodes.iter().enumerate())
            .find_map(|(idx, node)| {
                let actor = node.backtrack.iter().find(|actor| live(node, actor))?;
                Some((idx, actor.clone()))
            })
            .ok_or(nothing_left)?;
        let mut out = Writer::default();
        self.save(&mut out);
        let mut other = Dpor::restore(
            self.preemptions_max,
            self.faults_max,
            &mut Reader::new(&out.bytes),
        )?;
        let given_away = |actor: Actor| Sleeper {
            actor,
            accesses: Rc::from([]),
            cost: super::GIVEN_AWAY,
        };
        for (idx, theirs) in other.nodes.iter_mut().enumerate() {
            let kept = (idx == node).then(|| actor.clone());
            for scheduled in std::mem::take(&mut theirs.backtrack) {
                if Some(&scheduled) != kept.as_ref() {
                    theirs.done.push(given_away(scheduled));
                }
            }
            theirs.backtrack.extend(kept);
        }
        let ours = &mut self.nodes[node];
        ours.backtrack.retain(|scheduled| *scheduled != actor);
        ours.done.push(given_away(actor.clone()));
        Ok((other, HandOver { node, actor }))
    }
}

fn task(out: &mut Writer, task: &TaskId) {
    out.u32(task.0);
}

fn read_task(input: &mut Reader<'_>) -> Result<TaskId, String> {
    Ok(TaskId(input.u32("task id")?))
}

fn actor(out: &mut Writer, actor: &Actor) {
    match actor {
        Actor::Task(id) => {
            out.u8(0);
            task(out, id);
        }
        Actor::Fault(name) => {
            out.u8(1);
            out.str(name);
        }
    }
}

fn read_actor(input: &mut Reader<'_>) -> Result<Actor, String> {
    match input.u8("actor kind")? {
        0 => Ok(Actor::Task(read_task(input)?)),
        1 => Ok(Actor::Fault(input.str("fault name")?)),
        other => Err(format!("actor kind {other} is unknown (0: task, 1: fault)")),
    }
}

fn access(out: &mut Writer, access: &Access) {
    match access.object {
        ObjectKey::Shared(id) => {
            out.u8(0);
            out.u32(id);
        }
        ObjectKey::Task(id) => {
            out.u8(1);
            task(out, &id);
        }
        ObjectKey::Ended(id) => {
            out.u8(2);
            task(out, &id);
        }
        ObjectKey::Injected(id) => {
            out.u8(3);
            task(out, &id);
        }
        ObjectKey::FaultBudget => out.u8(4),
    }
    out.bool(access.write);
    out.u8(match access.lock {
        LockRole::None => 0,
        LockRole::Acquire => 1,
        LockRole::Release => 2,
    });
}

fn read_access(input: &mut Reader<'_>) -> Result<Access, String> {
    let object = match input.u8("object kind")? {
        0 => ObjectKey::Shared(input.u32("object id")?),
        1 => ObjectKey::Task(read_task(input)?),
        2 => ObjectKey::Ended(read_task(input)?),
        3 => ObjectKey::Injected(read_task(input)?),
        4 => ObjectKey::FaultBudget,
        other => return Err(format!("object kind {other} is unknown")),
    };
    let write = input.bool("write flag")?;
    let lock = match input.u8("lock role")? {
        0 => LockRole::None,
        1 => LockRole::Acquire,
        2 => LockRole::Release,
        other => return Err(format!("lock role {other} is unknown")),
    };
    Ok(Access {
        object,
        write,
        lock,
    })
}

fn sleeper(out: &mut Writer, sleeper: &Sleeper) {
    actor(out, &sleeper.actor);
    out.seq(&sleeper.accesses, access);
    out.u32(sleeper.cost);
}

fn read_sleeper(input: &mut Reader<'_>) -> Result<Sleeper, String> {
    Ok(Sleeper {
        actor: read_actor(input)?,
        accesses: Rc::from(input.seq("sleeper accesses", read_access)?),
        cost: input.u32("sleeper cost")?,
    })
}

fn node(out: &mut Writer, node: &Node) {
    out.seq(&node.enabled, actor);
    out.bool(node.current.is_some());
    task(out, &node.current.unwrap_or(TaskId(0)));
    out.bool(node.current_yields);
    out.seq(&node.yielding, task);
    out.u32(node.preemptions);
    out.u32(node.faults);
    out.seq(&node.sleep, sleeper);
    out.seq(&node.done, sleeper);
    out.seq(&node.backtrack, actor);
    let origins: Vec<(&Actor, &Origin)> = node.origins.iter().collect();
    out.seq(&origins, |out, (who, origin)| {
        actor(out, who);
        out.u8(match origin {
            Origin::Race => 0,
            Origin::LastSwitch => 1,
            Origin::FaultFirst => 2,
        });
    });
    out.seq(&node.kept_awake, actor);
    actor(out, &node.chosen);
    out.seq(&node.accesses, access);
    out.len(node.actor_idx);
    out.u32(node.actor_seq);
    out.seq(&node.clock, |out, count| out.u32(*count));
}

fn read_node(input: &mut Reader<'_>, actors: usize) -> Result<Node, String> {
    let enabled = input.seq("enabled actors", read_actor)?;
    let has_current = input.bool("current flag")?;
    let current = read_task(input)?;
    let current_yields = input.bool("yield flag")?;
    let yielding = input.seq("yielding tasks", read_task)?;
    let preemptions = input.u32("preemptions")?;
    let faults = input.u32("faults")?;
    let sleep = input.seq("sleep set", read_sleeper)?;
    let done = input.seq("explored actors", read_sleeper)?;
    let backtrack = input.seq("scheduled actors", read_actor)?;
    let origins = input.seq("origins", |input| {
        let who = read_actor(input)?;
        let origin = match input.u8("origin")? {
            0 => Origin::Race,
            1 => Origin::LastSwitch,
            2 => Origin::FaultFirst,
            other => return Err(format!("origin {other} is unknown")),
        };
        Ok((who, origin))
    })?;
    let kept_awake = input.seq("kept-awake actors", read_actor)?;
    let chosen = read_actor(input)?;
    let accesses = input.seq("accesses", read_access)?;
    let actor_idx = input.len("actor index")?;
    if actor_idx >= actors {
        return Err(format!(
            "actor index {actor_idx} is outside the {actors} actors saved"
        ));
    }
    let actor_seq = input.u32("actor event count")?;
    let clock = input.seq("clock", |input| input.u32("clock entry"))?;
    Ok(Node {
        enabled,
        current: has_current.then_some(current),
        current_yields,
        yielding,
        preemptions,
        faults,
        sleep,
        done,
        backtrack,
        origins: origins.into_iter().collect::<BTreeMap<_, _>>(),
        kept_awake,
        chosen,
        accesses,
        actor_idx,
        actor_seq,
        clock,
    })
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::runner::{Config, run};
    use crate::sync::Mutex;
    use crate::sync::atomic::{AtomicU32, Ordering};

    /// Everything a search keeps from one execution to the next, as text.
    fn persistent(dpor: &Dpor) -> String {
        format!(
            "{:?}\n{:?}\n{:?}\n{:?}\n{} {} {} {} {}",
            dpor.nodes,
            dpor.actors,
            dpor.data,
            dpor.stats,
            dpor.executions,
            dpor.exhausted,
            dpor.redundant,
            dpor.preemptions_max,
            dpor.faults_max
        )
    }

    /// Three threads on a mutex and an atomic: nodes with several explored, scheduled and
    /// sleeping actors.
    fn model() {
        let lock = Arc::new(Mutex::new(0u32));
        let counter = Arc::new(AtomicU32::new(0));
        let handles: Vec<_> = (0..2)
            .map(|_| {
                let (lock, counter) = (lock.clone(), counter.clone());
                crate::thread::spawn(move || {
                    *lock.lock().unwrap() += 1;
                    let seen = counter.load(Ordering::SeqCst);
                    counter.store(seen + 1, Ordering::SeqCst);
                })
            })
            .collect();
        counter.fetch_add(1, Ordering::SeqCst);
        for handle in handles {
            handle.join().unwrap();
        }
    }

    /// A node holding every kind of actor, object, lock role and origin.
    fn every_variant() -> Node {
        let fault = Actor::Fault("participant fault on worker 'a' (error)".into());
        let accesses: Vec<Access> = [
            ObjectKey::Shared(3),
            ObjectKey::Task(TaskId(1)),
            ObjectKey::Ended(TaskId(2)),
            ObjectKey::Injected(TaskId(3)),
            ObjectKey::FaultBudget,
        ]
        .into_iter()
        .flat_map(|object| {
            [
                Access::read(object),
                Access::acquire(object),
                Access::release(object),
            ]
        })
        .collect();
        let sleeper = |actor: &Actor, cost| Sleeper {
            actor: actor.clone(),
            accesses: Rc::from(accesses.clone()),
            cost,
        };
        Node {
            enabled: vec![
                Actor::Task(TaskId(0)),
                Actor::Task(TaskId(5)),
                fault.clone(),
            ],
            current: None,
            current_yields: true,
            yielding: vec![TaskId(4)],
            preemptions: 2,
            faults: 1,
            sleep: vec![sleeper(&fault, 1)],
            done: vec![sleeper(&Actor::Task(TaskId(0)), 2), sleeper(&fault, 0)],
            backtrack: vec![fault.clone(), Actor::Task(TaskId(5))],
            origins: [
                (fault.clone(), Origin::FaultFirst),
                (Actor::Task(TaskId(0)), Origin::Race),
                (Actor::Task(TaskId(5)), Origin::LastSwitch),
            ]
            .into_iter()
            .collect(),
            kept_awake: vec![fault.clone()],
            chosen: fault,
            accesses,
            actor_idx: 0,
            actor_seq: 7,
            clock: vec![7, 0, 3],
        }
    }

    #[test]
    fn a_saved_search_restores_everything_it_keeps_between_executions() {
        let config = Config {
            executions: 40,
            ..Config::default()
        };
        let mut dpor = Dpor::new(2, 1);
        run(&config, &mut dpor, model);
        assert_eq!(dpor.executions, 40, "the search was cut by its budget");
        let explored = dpor.nodes.iter().map(|node| node.done.len()).max();
        let scheduled = dpor.nodes.iter().map(|node| node.backtrack.len()).max();
        let asleep = dpor.nodes.iter().map(|node| node.sleep.len()).max();
        assert!(
            explored > Some(1) && scheduled > Some(0) && asleep > Some(0),
            "nodes with explored, scheduled and sleeping actors: {explored:?} {scheduled:?} {asleep:?}"
        );
        dpor.nodes.push(every_variant());
        let mut out = Writer::default();
        dpor.save(&mut out);
        let mut input = Reader::new(&out.bytes);
        let restored = Dpor::restore(2, 1, &mut input).unwrap();
        assert!(input.at_end());
        assert_eq!(persistent(&restored), persistent(&dpor));

        let mut input = Reader::new(&out.bytes);
        let error = Dpor::restore(1, 1, &mut input).unwrap_err();
        assert!(
            error.contains("saved with 2 preemptions and 1 faults"),
            "{error}"
        );

        // A node that would run an actor that could not run there is refused.
        let last = dpor.nodes.last_mut().unwrap();
        last.backtrack.push(Actor::Task(TaskId(9)));
        let mut out = Writer::default();
        dpor.save(&mut out);
        let error = Dpor::restore(2, 1, &mut Reader::new(&out.bytes)).unwrap_err();
        assert!(
            error.contains("runs Task(TaskId(9)), which could not run there"),
            "{error}"
        );
    }

    #[test]
    fn a_restored_search_goes_on_as_the_uninterrupted_one() {
        let mut config = Config {
            executions: 10_000,
            ..Config::default()
        };
        let mut whole = Dpor::new(2, 0);
        let all = run(&config, &mut whole, model).progress().executions;
        assert!(whole.exhausted && all > 40, "{all} executions");
        config.executions = 40;
        let mut first = Dpor::new(2, 0);
        run(&config, &mut first, model);
        let mut out = Writer::default();
        first.save(&mut out);
        let mut rest = Dpor::restore(2, 0, &mut Reader::new(&out.bytes)).unwrap();
        config.executions = 10_000;
        let resumed = crate::runner::Runner::new(config)
            .starting_at(40)
            .run(&mut rest, model);
        assert_eq!(40 + resumed.progress().executions, all);
        assert!(rest.exhausted);
        assert_eq!(
            format!("{:?}", rest.stats()),
            format!("{:?}", whole.stats())
        );
    }
}
