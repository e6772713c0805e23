//! Soak: registers N idle workers, measures what they cost at rest, churns the pool on every
//! core, then tears it all down, printing figures from `/proc/self` along the way.
//!
//!     cargo run --release --example soak -- --workers 10000 --seconds 10
//!
//! Options: `--workers N` idle workers (10,000), `--seconds S` of churn (10), `--cycles C`
//! stop the churn after C register+unregister cycles (no limit), `--idle-seconds I` for the
//! idle measurement (3), `--interval-ms M` between churn reports (1,000), `--threads T`
//! churn threads (one per core).
//!
//! Phases and lines (all figures are wall-clock measurements of this machine, not tests):
//! `register` (time to register N workers), `idle` (CPU of the whole process while the N
//! workers sit idle, per worker), `churn` (one line per interval: cycles so far, cycles per
//! second, resident memory, threads, CPU), `rss` (resident memory after 10,000 cycles and at
//! the end of the churn), `teardown` (time to drop the N registrations).

#![expect(
    clippy::disallowed_methods,
    clippy::disallowed_types,
    reason = "a soak test measures the real machine: OS threads, sleeps and the wall clock"
)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use vigil_benches::procfs::{TICKS_PER_SECOND, cpu_ticks, mib, resident_bytes, thread_count};
use vigil_core::aion::{WorkerCapacity, dispatch_channel};
use vigil_core::pool::{WorkerContext, WorkerRegistration};

/// The cycle count at which the early resident-memory figure is taken.
const EARLY_CYCLES: u64 = 10_000;

#[derive(Debug)]
struct Options {
    workers: usize,
    seconds: f64,
    cycles: Option<u64>,
    idle_seconds: f64,
    interval: Duration,
    threads: usize,
}

fn options() -> Options {
    let mut options = Options {
        workers: 10_000,
        seconds: 10.0,
        cycles: None,
        idle_seconds: 3.0,
        interval: Duration::from_millis(1_000),
        threads: thread::available_parallelism().map_or(1, usize::from),
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    for pair in args.chunks(2) {
        let [flag, value] = pair else {
            panic!("every option takes a value; usage: soak --workers N --seconds S");
        };
        let number = |what: &str| -> f64 {
            value
                .parse()
                .unwrap_or_else(|_| panic!("{what} needs a number, got '{value}'"))
        };
        match flag.as_str() {
            "--workers" => options.workers = number("--workers") as usize,
            "--seconds" => options.seconds = number("--seconds"),
            "--cycles" => options.cycles = Some(number("--cycles") as u64),
            "--idle-seconds" => options.idle_seconds = number("--idle-seconds"),
            "--interval-ms" => {
                options.interval = Duration::from_millis(number("--interval-ms") as u64);
            }
            "--threads" => options.threads = (number("--threads") as usize).max(1),
            other => panic!("unknown option '{other}'; usage: soak --workers N --seconds S"),
        }
    }
    options
}

fn capacity() -> WorkerCapacity {
    WorkerCapacity {
        max_concurrent: 4,
        activity_types: vec!["send-email".to_owned()],
    }
}

fn process_line() -> String {
    format!(
        "rss_mib={:.1} threads={}",
        resident_bytes().map_or(f64::NAN, mib),
        thread_count().unwrap_or(0)
    )
}

/// Percent of one core used between two `cpu_ticks` readings `elapsed` apart.
fn cpu_percent(ticks: u64, elapsed: Duration) -> f64 {
    ticks as f64 / TICKS_PER_SECOND as f64 / elapsed.as_secs_f64() * 100.0
}

fn register_idle(context: &WorkerContext, count: usize) -> Vec<WorkerRegistration> {
    let started = Instant::now();
    let workers: Vec<_> = (0..count)
        .map(|_| {
            context
                .register_worker("soak", "idle", capacity())
                .expect("registration on a healthy context succeeds")
        })
        .collect();
    println!(
        "register workers={count} seconds={:.3} {}",
        started.elapsed().as_secs_f64(),
        process_line()
    );
    workers
}

fn measure_idle(count: usize, seconds: f64) {
    let before = cpu_ticks().unwrap_or(0);
    let started = Instant::now();
    thread::sleep(Duration::from_secs_f64(seconds));
    let elapsed = started.elapsed();
    let percent = cpu_percent(cpu_ticks().unwrap_or(0) - before, elapsed);
    println!(
        "idle workers={count} seconds={:.1} cpu_percent_of_one_core={percent:.3} \
         cpu_percent_per_worker={:.6} {}",
        elapsed.as_secs_f64(),
        percent / count.max(1) as f64,
        process_line()
    );
}

/// One churn thread: register and unregister a worker on the `churn` queue, with a snapshot
/// of that queue every 16 cycles, until `stop`.
fn churn(context: &WorkerContext, cycles: &AtomicU64, stop: &AtomicBool) {
    let channel = dispatch_channel("soak", "churn").expect("a valid channel name");
    let mut local = 0u64;
    while !stop.load(Ordering::Relaxed) {
        let registration = context
            .register_worker("soak", "churn", capacity())
            .expect("registration on a healthy context succeeds");
        registration.unregister().expect("unregister never fails");
        local += 1;
        if local.is_multiple_of(16) {
            let _ = context.workers_for_channel(&channel);
        }
        cycles.fetch_add(1, Ordering::Relaxed);
    }
}

fn run_churn(context: &WorkerContext, options: &Options) {
    let cycles = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let churners: Vec<_> = (0..options.threads)
        .map(|_| {
            let (context, cycles, stop) = (context.clone(), cycles.clone(), stop.clone());
            thread::spawn(move || churn(&context, &cycles, &stop))
        })
        .collect();
    let started = Instant::now();
    let (mut last_cycles, mut last_ticks, mut last_at) = (0, cpu_ticks().unwrap_or(0), started);
    let mut early_rss = None;
    loop {
        thread::sleep(options.interval.min(Duration::from_millis(50)));
        let done = cycles.load(Ordering::Relaxed);
        if early_rss.is_none() && done >= EARLY_CYCLES {
            early_rss = resident_bytes().map(|bytes| (done, bytes));
        }
        let finished = started.elapsed().as_secs_f64() >= options.seconds
            || options.cycles.is_some_and(|limit| done >= limit);
        if last_at.elapsed() >= options.interval || finished {
            let ticks = cpu_ticks().unwrap_or(0);
            let elapsed = last_at.elapsed();
            println!(
                "churn t={:.1}s cycles={done} cycles_per_second={:.0} cpu_percent={:.1} {}",
                started.elapsed().as_secs_f64(),
                (done - last_cycles) as f64 / elapsed.as_secs_f64(),
                cpu_percent(ticks - last_ticks, elapsed),
                process_line()
            );
            (last_cycles, last_ticks, last_at) = (done, ticks, Instant::now());
        }
        if finished {
            break;
        }
    }
    stop.store(true, Ordering::Relaxed);
    for churner in churners {
        churner.join().expect("a churn thread panicked");
    }
    let total = cycles.load(Ordering::Relaxed);
    let end_rss = resident_bytes().unwrap_or(0);
    match early_rss {
        Some((early_cycles, early)) => println!(
            "rss after_cycles={early_cycles} mib={:.1} after_cycles={total} mib={:.1} growth_percent={:.1}",
            mib(early),
            mib(end_rss),
            (end_rss as f64 / early as f64 - 1.0) * 100.0
        ),
        None => println!("rss after_cycles={total} mib={:.1}", mib(end_rss)),
    }
}

fn main() {
    let options = options();
    println!(
        "soak workers={} seconds={} threads={} {}",
        options.workers,
        options.seconds,
        options.threads,
        process_line()
    );
    let context = WorkerContext::new();
    let idle = register_idle(&context, options.workers);
    measure_idle(options.workers, options.idle_seconds);
    run_churn(&context, &options);
    let started = Instant::now();
    drop(idle);
    println!(
        "teardown workers={} seconds={:.3} {}",
        options.workers,
        started.elapsed().as_secs_f64(),
        process_line()
    );
}
