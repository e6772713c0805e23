//! The example service: clients send requests over madsim's network to a dispatcher node,
//! which dispatches each one to pool workers hosted on worker nodes that crash and restart.
//!
//! [`run`] builds the whole system in the current madsim world, lets requests flow while a
//! chaos task kills and restarts worker nodes and partitions clients from the dispatcher, and
//! returns what every client saw, what the pool's step checks saw, and a trace of events in
//! virtual time. The same `MADSIM_TEST_SEED` gives the same report.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use madsim::net::{Endpoint, NetSim};
use madsim::rand::Rng;
use madsim::runtime::{Handle as Madsim, NodeHandle};
use madsim::time::{sleep, timeout};
use vigil_core::aion::{ActivityRequest, ActivityResult, Payload, WorkerCapacity};
use vigil_core::dispatch::{
    ActivityHandler, DispatchContext, DispatchOperationKind, MemoryRecorder,
    RoutingFunctionDispatchRouter, dispatch_activity_with_context, policy,
    register_dispatch_worker,
};
use vigil_core::pool::WorkerContext;
use vigil_core::rt::{self, RawLock};

use crate::{Handle, Moment};

const NAMESPACE: &str = "shop";
const TASK_QUEUE: &str = "orders";
const ACTIVITY: &str = "echo";
const REQUEST_TAG: u64 = 1;
const REPLY_TAG: u64 = 2;
const DISPATCHER_PORT: u16 = 9000;

/// The shape of one run.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct ServiceConfig {
    pub worker_nodes: usize,
    pub workers_per_node: usize,
    pub clients: usize,
    pub requests_per_client: usize,
    /// Kill and restart worker nodes and partition clients while requests flow.
    pub chaos: bool,
    /// How long a client waits for a reply before it counts the request as timed out.
    pub reply_timeout: Duration,
    /// Virtual time each activity takes on its worker.
    pub activity_time: Duration,
}

impl Default for ServiceConfig {
    fn default() -> Self {
        ServiceConfig {
            worker_nodes: 3,
            workers_per_node: 2,
            clients: 2,
            requests_per_client: 20,
            chaos: true,
            reply_timeout: Duration::from_secs(2),
            activity_time: Duration::from_millis(20),
        }
    }
}

/// How one request ended, as its client saw it. Every request ends in one of these: none is
/// lost without a name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RequestOutcome {
    /// A worker ran the activity and the reply arrived.
    Completed,
    /// Dispatch failed with an `AionSurfaceError`, whose message this is.
    Failed(String),
    /// No reply within the client's timeout: the request or its reply was lost to a
    /// partition.
    TimedOut,
}

/// What a run saw.
#[derive(Debug, Default)]
#[non_exhaustive]
pub struct Report {
    /// (client, request, outcome) for every request sent, in the order they ended.
    pub outcomes: Vec<(usize, usize, RequestOutcome)>,
    /// Requests the dispatcher received and requests it answered (or failed).
    pub received: usize,
    pub resolved: usize,
    /// Times a dispatch saw its selected worker exit and selected again (recorded
    /// `WorkerExited` operations).
    pub worker_exits: usize,
    /// The first violation of a step check: (check, message).
    pub violation: Option<(String, String)>,
    /// Panics inside pool tasks: (task, message).
    pub panics: Vec<(String, String)>,
    /// Events in virtual time (milliseconds since the start), for comparing runs.
    pub trace: Vec<String>,
}

type Shared<T> = Arc<RawLock<T>>;

/// Builds the service in the current madsim world, runs it to the end and reports.
pub async fn run(config: &ServiceConfig) -> Report {
    let world = Handle::new();
    let pool = world.context();
    add_pool_checks(&world, &pool);
    let report: Shared<Report> = Arc::default();
    let start = madsim::time::Instant::now();
    let log = {
        let report = report.clone();
        move |event: String| {
            let ms = start.elapsed().as_millis();
            report.with(|report| report.trace.push(format!("{ms:>6} ms  {event}")));
        }
    };

    let recorder = Arc::new(MemoryRecorder::new());
    let dispatcher = dispatcher_node(&world, &pool, &recorder, &report);
    let workers: Vec<NodeHandle> = (0..config.worker_nodes)
        .map(|index| worker_node(&world, &pool, config, index))
        .collect();
    let clients: Vec<_> = (0..config.clients)
        .map(|index| {
            let node = client_node(index);
            let (config, report, log) = (config.clone(), report.clone(), log.clone());
            let id = node.id();
            (id, node.spawn(client(index, config, report, log)))
        })
        .collect();
    let client_ids: Vec<_> = clients.iter().map(|(id, _)| *id).collect();
    let chaos = config.chaos.then(|| {
        let world = world.clone();
        let worker_ids: Vec<_> = workers.iter().map(NodeHandle::id).collect();
        let (dispatcher, clients, log) = (dispatcher.id(), client_ids.clone(), log.clone());
        madsim::task::spawn(chaos_loop(world, worker_ids, dispatcher, clients, log))
    });
    for (_, client) in clients {
        client.await.expect("a client node is never killed");
    }
    if let Some(chaos) = chaos {
        chaos.abort();
        let net = NetSim::current();
        for client in client_ids {
            net.unclog_link(client, dispatcher.id());
            net.unclog_link(dispatcher.id(), client);
        }
    }
    // Let in-flight dispatches, exit notices and restarts settle before the last look.
    sleep(Duration::from_secs(1)).await;
    let operations = world.call(move || recorder.operations()).await;
    let worker_exits = operations
        .iter()
        .filter(|operation| operation.kind == DispatchOperationKind::WorkerExited)
        .count();
    report.with(|report| {
        report.worker_exits = worker_exits;
        report.violation = world.violation();
        report.panics = world.panics();
        std::mem::take(report)
    })
}

/// The pool's invariants, checked after every step of every pool task.
fn add_pool_checks(world: &Handle, pool: &WorkerContext) {
    let watched = pool.clone();
    world.check_every_step("snapshot-monitored", move |_| snapshot_monitored(&watched));
    let watched = pool.clone();
    world.check_every_step("dead-worker-removed", move |moment| {
        dead_worker_removed(&watched, moment)
    });
}

/// Every worker visible to dispatch whose process is alive is linked to a live monitor.
fn snapshot_monitored(pool: &WorkerContext) -> Result<(), String> {
    let Some(supervisor) = pool.peek_supervisor() else {
        return Ok(());
    };
    let Some(visible) = visible_workers(pool) else {
        return Ok(());
    };
    let unwatched = supervisor.node().peek_view(|view| {
        visible.iter().find(|(_, pid)| {
            view.alive(*pid)
                && !view
                    .links(*pid)
                    .any(|peer| view.alive(peer) && view.name(peer) == Some("conversation-actor"))
        })
    });
    match unwatched.flatten() {
        Some((worker, pid)) => Err(format!(
            "worker '{worker}' is visible to dispatch, but its live process {pid} is not linked \
             to any live monitor"
        )),
        None => Ok(()),
    }
}

/// Once the pool is quiescent (every exit notice handled), no visible worker is dead.
fn dead_worker_removed(pool: &WorkerContext, moment: &Moment) -> Result<(), String> {
    if !moment.quiescent {
        return Ok(());
    }
    let (Some(supervisor), Some(visible)) = (pool.peek_supervisor(), visible_workers(pool)) else {
        return Ok(());
    };
    let dead = supervisor
        .node()
        .peek_view(|view| visible.iter().find(|(_, pid)| !view.alive(*pid)).cloned());
    match dead.flatten() {
        Some((worker, pid)) => Err(format!(
            "worker '{worker}' is still visible to dispatch with its process {pid} dead, and \
             the pool has nothing left to run"
        )),
        None => Ok(()),
    }
}

/// (worker id, process) of every active entry; `None` while the pool's lock is held.
fn visible_workers(pool: &WorkerContext) -> Option<Vec<(String, vigil_core::process::Pid)>> {
    pool.peek_channels(|channels| {
        channels
            .iter()
            .flat_map(|channel| channel.entries.iter().flatten())
            .filter(|entry| entry.active)
            .map(|entry| (entry.worker_id.clone(), entry.participant))
            .collect()
    })
}

fn dispatcher_address() -> SocketAddr {
    SocketAddr::new(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)), DISPATCHER_PORT)
}

/// The dispatcher: one task per request, each dispatching through the pool and replying.
fn dispatcher_node(
    world: &Handle,
    pool: &WorkerContext,
    recorder: &Arc<MemoryRecorder>,
    report: &Shared<Report>,
) -> NodeHandle {
    let router = RoutingFunctionDispatchRouter::new(policy::least_loaded());
    let mut context = DispatchContext::for_pool(pool, Arc::new(router));
    context.recorder = recorder.clone();
    let (world, report) = (world.clone(), report.clone());
    let node = Madsim::current()
        .create_node()
        .name("dispatcher")
        .ip(dispatcher_address().ip())
        .build();
    node.spawn(async move {
        let endpoint = Arc::new(Endpoint::bind(dispatcher_address()).await.expect("bind"));
        let mut buffer = [0u8; 64];
        loop {
            let Ok((len, from)) = endpoint.recv_from(REQUEST_TAG, &mut buffer).await else {
                continue;
            };
            let Some(id) = decode_id(&buffer[..len]) else {
                continue;
            };
            report.with(|report| report.received += 1);
            let (world, context) = (world.clone(), context.clone());
            let (endpoint, report) = (endpoint.clone(), report.clone());
            madsim::task::spawn(async move {
                let request = activity_request(id);
                let result = world
                    .call(move || {
                        dispatch_activity_with_context(&context, NAMESPACE, TASK_QUEUE, request)
                    })
                    .await;
                report.with(|report| report.resolved += 1);
                let reply = encode_reply(id, &result);
                // A reply lost to a partition is the client's timeout to name.
                let _ = endpoint.send_to(from, REPLY_TAG, &reply).await;
            });
        }
    });
    node
}

fn activity_request(id: u64) -> ActivityRequest {
    ActivityRequest {
        activity_type: ACTIVITY.to_owned(),
        input: Payload {
            data: id.to_le_bytes().to_vec(),
            content_type: "application/octet-stream".to_owned(),
        },
        task_queue: TASK_QUEUE.to_owned(),
        schedule_to_close_timeout: None,
        start_to_close_timeout: None,
    }
}

/// A worker node: its init registers `workers_per_node` dispatch workers, each held by a
/// pool task acting for the node until the worker's process dies with it.
fn worker_node(
    world: &Handle,
    pool: &WorkerContext,
    config: &ServiceConfig,
    index: usize,
) -> NodeHandle {
    let (world, pool) = (world.clone(), pool.clone());
    let (workers, activity_time) = (config.workers_per_node, config.activity_time);
    Madsim::current()
        .create_node()
        .name(format!("worker-{index}"))
        .ip(IpAddr::V4(Ipv4Addr::new(10, 0, 1, index as u8 + 1)))
        .init(move || {
            let (world, pool) = (world.clone(), pool.clone());
            async move {
                for _ in 0..workers {
                    let pool = pool.clone();
                    world.spawn("worker", move || serve(&pool, activity_time));
                }
            }
        })
        .build()
}

fn serve(pool: &WorkerContext, activity_time: Duration) {
    let handler: ActivityHandler = Arc::new(move |request: &ActivityRequest| {
        rt::sleep(activity_time);
        ActivityResult::Completed {
            output: request.input.clone(),
        }
    });
    let capacity = WorkerCapacity {
        max_concurrent: 4,
        activity_types: vec![ACTIVITY.to_owned()],
    };
    // A registration that races its own node's death fails with a named error; the node's
    // restart registers afresh, so there is nothing to retry here.
    if let Ok(mut worker) = register_dispatch_worker(pool, NAMESPACE, TASK_QUEUE, capacity, handler)
    {
        worker.join_loop_after_exit();
    }
}

fn client_node(index: usize) -> NodeHandle {
    Madsim::current()
        .create_node()
        .name(format!("client-{index}"))
        .ip(IpAddr::V4(Ipv4Addr::new(10, 0, 2, index as u8 + 1)))
        .build()
}

/// Sends requests one after another, each waiting for its reply or the timeout.
async fn client(index: usize, config: ServiceConfig, report: Shared<Report>, log: impl Fn(String)) {
    let ip = IpAddr::V4(Ipv4Addr::new(10, 0, 2, index as u8 + 1));
    let endpoint = Endpoint::bind(SocketAddr::new(ip, 7000))
        .await
        .expect("bind");
    let mut buffer = [0u8; 1024];
    for request in 0..config.requests_per_client {
        let id = ((index as u64) << 32) | request as u64;
        let outcome = match endpoint
            .send_to(dispatcher_address(), REQUEST_TAG, &id.to_le_bytes())
            .await
        {
            Err(_) => RequestOutcome::TimedOut,
            Ok(()) => await_reply(&endpoint, id, &mut buffer, config.reply_timeout).await,
        };
        log(format!("client-{index} request {request}: {outcome:?}"));
        report.with(|report| report.outcomes.push((index, request, outcome)));
        sleep(Duration::from_millis(10)).await;
    }
}

async fn await_reply(
    endpoint: &Endpoint,
    id: u64,
    buffer: &mut [u8],
    limit: Duration,
) -> RequestOutcome {
    let deadline = madsim::time::Instant::now() + limit;
    loop {
        let left = deadline.saturating_duration_since(madsim::time::Instant::now());
        match timeout(left, endpoint.recv_from(REPLY_TAG, buffer)).await {
            Err(_) => return RequestOutcome::TimedOut,
            Ok(Err(_)) => continue,
            // Replies to earlier requests that timed out arrive late; skip them.
            Ok(Ok((len, _))) => match decode_reply(&buffer[..len]) {
                Some((reply_id, outcome)) if reply_id == id => return outcome,
                _ => continue,
            },
        }
    }
}

/// Kills and restarts a worker node, then partitions a client from the dispatcher, and again,
/// with victims, moments and durations drawn from madsim's seeded generator, until aborted.
async fn chaos_loop(
    world: Handle,
    workers: Vec<madsim::task::NodeId>,
    dispatcher: madsim::task::NodeId,
    clients: Vec<madsim::task::NodeId>,
    log: impl Fn(String),
) {
    let net = NetSim::current();
    for round in 0_u64.. {
        let pause = madsim::rand::thread_rng().gen_range(20..120);
        sleep(Duration::from_millis(pause)).await;
        if round % 2 == 0 && !workers.is_empty() {
            let victim = workers[madsim::rand::thread_rng().gen_range(0..workers.len())];
            log(format!("kill node {victim}"));
            world.kill(victim);
            let down = madsim::rand::thread_rng().gen_range(10..200);
            sleep(Duration::from_millis(down)).await;
            log(format!("restart node {victim}"));
            world.restart(victim);
        } else if !clients.is_empty() {
            let cut = clients[madsim::rand::thread_rng().gen_range(0..clients.len())];
            log(format!("partition node {cut} from the dispatcher"));
            net.clog_link(cut, dispatcher);
            net.clog_link(dispatcher, cut);
            let down = madsim::rand::thread_rng().gen_range(100..3000);
            sleep(Duration::from_millis(down)).await;
            log(format!("heal node {cut}"));
            net.unclog_link(cut, dispatcher);
            net.unclog_link(dispatcher, cut);
        }
    }
}

fn decode_id(bytes: &[u8]) -> Option<u64> {
    Some(u64::from_le_bytes(bytes.get(..8)?.try_into().ok()?))
}

fn encode_reply(
    id: u64,
    result: &Result<ActivityResult, vigil_core::aion::AionSurfaceError>,
) -> Vec<u8> {
    let mut bytes = id.to_le_bytes().to_vec();
    match result {
        Ok(ActivityResult::Completed { .. }) => bytes.push(0),
        Ok(ActivityResult::Failed { error }) | Err(error) => {
            bytes.push(1);
            bytes.extend_from_slice(error.to_string().as_bytes());
        }
    }
    bytes
}

fn decode_reply(bytes: &[u8]) -> Option<(u64, RequestOutcome)> {
    let id = decode_id(bytes)?;
    let outcome = match *bytes.get(8)? {
        0 => RequestOutcome::Completed,
        _ => RequestOutcome::Failed(String::from_utf8_lossy(&bytes[9..]).into_owned()),
    };
    Some((id, outcome))
}
