//! Group commit: the write path.
//!
//! Use cases that write are queued here. A writer thread takes a batch of them, runs each
//! in its own savepoint inside one transaction, commits once, and only then answers every
//! request of the batch. A failing use case rolls back its savepoint alone; a failed
//! commit answers the whole batch "unavailable", so nothing is acknowledged before it is
//! durable. Requests of one batch run one after another, so uniqueness and `If-Match`
//! races resolve exactly as if each had its own transaction.
//!
//! Fairness: each job carries a key (the tenant's slug, or "" for roster's own work).
//! Batches take jobs from the keys in turn, and a key is worked on by at most
//! `writers_per_key` writers at a time, so one tenant's burst never takes every writer
//! from the others. SQLite has one writer (it admits one). PostgreSQL has several: for
//! several tenants at once, and for one tenant's burst, whose batches then run side by
//! side and take turns only from numbering their events (at the batch's end) to the
//! commit.
//!
//! Two batches of one tenant side by side can lock the same rows in opposite orders
//! (a group PATCH and a user PUT in one, the reverse in the other). PostgreSQL breaks
//! the cycle by failing one statement; its use case rolls back its savepoint and, if
//! it can run again ([`Pipeline::write_retryable`]: the SCIM writes), it is queued
//! again to run after its batch commits, so the client does not see the race. A use
//! case that can run only once gets its key to itself: no other batch of its key runs
//! beside it, exactly as when every key had one writer. Batches number their tenants'
//! events in tenant order, so their ends cannot deadlock on each other's sequences; a
//! guarded write's tenant lock can still meet the other batch's numbering, and a
//! deadlock there fails its whole batch with 503, as any failed commit does.

use std::collections::{HashMap, VecDeque};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::conn::{self, DbConnection};
use super::gate::Gate;
use super::StoreError;

/// How the queue and its writers are sized (see `roster serve --help`).
#[derive(Debug, Clone)]
pub struct PipelineSettings {
    /// Writer threads; SQLite always gets one.
    pub writers: usize,
    /// Most writers working on one key (tenant) at once.
    pub writers_per_key: usize,
    /// Most use cases in one transaction.
    pub max_batch: usize,
    /// A batch stops taking more use cases once it has run this long, so one batch
    /// never holds the others' answers back for long.
    pub batch_budget: Duration,
    /// Most use cases waiting; past it a request is answered 503 at once.
    pub capacity: usize,
    /// Longest a use case waits for its turn before it is answered 503 without running.
    pub queue_timeout: Duration,
    /// Longest a started use case's answer may take (its batch's statements and
    /// commit); past it the request gets 503 while the batch finishes or fails.
    pub run_timeout: Duration,
}

impl Default for PipelineSettings {
    fn default() -> Self {
        Self {
            writers: 4,
            writers_per_key: 2,
            max_batch: 256,
            batch_budget: Duration::from_millis(50),
            capacity: 4096,
            queue_timeout: Duration::from_secs(10),
            run_timeout: Duration::from_secs(5),
        }
    }
}

/// Where a job is in its life; the writer and the waiting request race for it once.
const QUEUED: u8 = 0;
const STARTED: u8 = 1;
const ABANDONED: u8 = 2;

/// What a job's run leaves for the writer: given the batch's fate (`None` when it
/// committed), it answers the request.
type Answer = Box<dyn FnOnce(Option<&str>) + Send>;
/// Runs the job; `None` when it lost a lock race and is to run again in a later batch.
type Run = Box<dyn FnMut(&mut DbConnection) -> Option<Answer> + Send>;

/// Most times a use case that lost lock races runs again before its error is answered.
const MAX_RERUNS: u32 = 3;

struct Job {
    key: Arc<str>,
    state: Arc<AtomicU8>,
    enqueued: Instant,
    run: Run,
    /// Whether the use case may run more than once; one that cannot has its key to
    /// itself while it runs.
    rerunnable: bool,
    /// Answers the request without running the job (queue timeout, shutdown).
    refuse: Box<dyn FnOnce(&str) + Send>,
}

/// The writers working on one key now.
#[derive(Default)]
struct Busy {
    writers: usize,
    /// One of them runs a use case that cannot run twice: no other writer joins.
    alone: bool,
    /// The row-count shards those writers count into, one bit each (see [`claim_shard`]).
    shards: u64,
}

#[derive(Default)]
struct Queues {
    by_key: HashMap<Arc<str>, VecDeque<Job>>,
    /// Keys with waiting jobs, in turn order.
    turns: VecDeque<Arc<str>>,
    /// Keys writers are working on now.
    busy: HashMap<Arc<str>, Busy>,
    waiting: usize,
}

/// Counters read by `/metrics`.
#[derive(Default)]
pub struct PipelineStats {
    pub batches: AtomicU64,
    pub committed: AtomicU64,
    pub failed_batches: AtomicU64,
    pub refused_full: AtomicU64,
    pub timed_out: AtomicU64,
    /// Use cases run again after losing a lock race to a batch beside theirs.
    pub reruns: AtomicU64,
    /// Batches by size: ≤1, ≤2, ≤4, … ≤256, more (see [`BATCH_BUCKETS`]).
    pub sizes: [AtomicU64; BATCH_BUCKETS.len() + 1],
}

/// Upper bounds of the batch-size histogram.
pub const BATCH_BUCKETS: [u64; 9] = [1, 2, 4, 8, 16, 32, 64, 128, 256];

impl PipelineStats {
    fn observe(&self, size: usize) {
        let bucket = BATCH_BUCKETS
            .iter()
            .position(|&b| size as u64 <= b)
            .unwrap_or(BATCH_BUCKETS.len());
        self.sizes[bucket].fetch_add(1, Ordering::Relaxed);
        self.batches.fetch_add(1, Ordering::Relaxed);
    }
}

struct Shared {
    queues: Mutex<Queues>,
    ready: Condvar,
    pool: Arc<Gate>,
    settings: PipelineSettings,
    stats: PipelineStats,
    closed: std::sync::atomic::AtomicBool,
    /// SQLite only: commits since the WAL was last checkpointed.
    checkpoint: Option<(Mutex<u64>, Condvar)>,
}

/// The queue and its writer threads; the threads start with the first write and end
/// when the last handle is dropped.
pub struct Pipeline {
    shared: Arc<Shared>,
    started: std::sync::Once,
}

impl Drop for Pipeline {
    fn drop(&mut self) {
        self.shared.closed.store(true, Ordering::SeqCst);
        self.shared.ready.notify_all();
    }
}

impl Pipeline {
    /// `checkpoint_wal`: SQLite, whose WAL a background thread checkpoints.
    pub fn new(pool: Arc<Gate>, settings: PipelineSettings, checkpoint_wal: bool) -> Self {
        Self {
            shared: Arc::new(Shared {
                queues: Mutex::default(),
                ready: Condvar::new(),
                pool,
                settings,
                stats: PipelineStats::default(),
                closed: Default::default(),
                checkpoint: checkpoint_wal.then(Default::default),
            }),
            started: std::sync::Once::new(),
        }
    }

    pub fn stats(&self) -> &PipelineStats {
        &self.shared.stats
    }

    /// Jobs waiting for a writer now.
    pub fn waiting(&self) -> usize {
        lock(&self.shared.queues).waiting
    }

    /// Queues `f` under `key` and waits for its committed result. `f` runs once, with
    /// its key to itself.
    pub async fn write<T, E, F>(&self, key: &str, f: F) -> Result<T, E>
    where
        F: FnOnce(&mut DbConnection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        let mut f = Some(f);
        self.submit(key, false, move |c: &mut DbConnection| {
            let f = f
                .take()
                .expect("a use case that cannot run twice runs once");
            Some(isolated(c, f))
        })
        .await
    }

    /// Like [`Pipeline::write`], for a use case that may run more than once (it owns
    /// nothing it gives away): one that loses a lock race to a batch beside its own is
    /// rolled back and run again in a later batch, up to [`MAX_RERUNS`] times.
    pub async fn write_retryable<T, E, F>(&self, key: &str, mut f: F) -> Result<T, E>
    where
        F: FnMut(&mut DbConnection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        let mut reruns = 0;
        self.submit(key, true, move |c: &mut DbConnection| {
            LOCK_CONFLICT.with(|l| l.set(false));
            let outcome = isolated(c, &mut f);
            if outcome.is_err() && LOCK_CONFLICT.with(|l| l.get()) && reruns < MAX_RERUNS {
                reruns += 1;
                return None;
            }
            Some(outcome)
        })
        .await
    }

    async fn submit<T, E>(
        &self,
        key: &str,
        rerunnable: bool,
        mut attempt: impl FnMut(&mut DbConnection) -> Option<Result<T, E>> + Send + 'static,
    ) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        self.start_writers();
        let (tx, rx) = tokio::sync::oneshot::channel::<Result<T, E>>();
        let tx = Arc::new(Mutex::new(Some(tx)));
        let state = Arc::new(AtomicU8::new(QUEUED));
        let span = tracing::Span::current();
        let answer_tx = tx.clone();
        let run: Run = Box::new(move |c: &mut DbConnection| {
            let _entered = span.enter();
            let outcome = attempt(c)?;
            let answer_tx = answer_tx.clone();
            Some(Box::new(move |batch_failure: Option<&str>| {
                let result = match batch_failure {
                    None => outcome,
                    Some(why) => Err(E::from(unavailable(why))),
                };
                send(&answer_tx, result);
            }))
        });
        let refuse_tx = tx.clone();
        let job = Job {
            key: Arc::from(key),
            state: state.clone(),
            enqueued: Instant::now(),
            run,
            rerunnable,
            refuse: Box::new(move |why: &str| send(&refuse_tx, Err(E::from(unavailable(why))))),
        };
        if let Err(job) = self.enqueue(job) {
            self.shared
                .stats
                .refused_full
                .fetch_add(1, Ordering::Relaxed);
            drop(job);
            return Err(E::from(unavailable("the write queue is full")));
        }
        // Dropping this future (the client went away) abandons a job that has not started.
        let _guard = AbandonOnDrop(state.clone());
        let mut rx = rx;
        let answer = match tokio::time::timeout(self.shared.settings.queue_timeout, &mut rx).await {
            Ok(answer) => answer,
            Err(_) if abandon(&state) => {
                self.shared.stats.timed_out.fetch_add(1, Ordering::Relaxed);
                return Err(E::from(unavailable(
                    "timed out waiting for a database writer",
                )));
            }
            // Running already: its answer comes with its batch's commit. A database
            // that stopped answering (a hung server ignores its own statement timeout)
            // must not hold the request for ever; the outcome is then unknown, as
            // with any timeout, and an IdP's retry finds the resource or makes it.
            Err(_) => match tokio::time::timeout(self.shared.settings.run_timeout, rx).await {
                Ok(answer) => answer,
                Err(_) => {
                    self.shared.stats.timed_out.fetch_add(1, Ordering::Relaxed);
                    return Err(E::from(unavailable("the database did not answer in time")));
                }
            },
        };
        answer.unwrap_or_else(|_| Err(E::from(unavailable("the database writer stopped"))))
    }

    fn enqueue(&self, job: Job) -> Result<(), Job> {
        let mut q = lock(&self.shared.queues);
        if q.waiting >= self.shared.settings.capacity {
            return Err(job);
        }
        let key = job.key.clone();
        let queue = q.by_key.entry(key.clone()).or_default();
        let first = queue.is_empty();
        queue.push_back(job);
        if first {
            q.turns.push_back(key);
        }
        q.waiting += 1;
        drop(q);
        self.shared.ready.notify_one();
        Ok(())
    }

    fn start_writers(&self) {
        self.started.call_once(|| {
            for n in 0..self.shared.settings.writers.max(1) {
                let shared = self.shared.clone();
                let spawned = std::thread::Builder::new()
                    .name(format!("roster-writer-{n}"))
                    .spawn(move || writer(&shared));
                if let Err(e) = spawned {
                    tracing::error!(error = %e, "could not start a database writer thread");
                }
            }
            if self.shared.checkpoint.is_some() {
                let shared = self.shared.clone();
                let spawned = std::thread::Builder::new()
                    .name("roster-checkpoint".into())
                    .spawn(move || checkpointer(&shared));
                if let Err(e) = spawned {
                    tracing::warn!(error = %e, "no WAL checkpoint thread; SQLite checkpoints on commit");
                }
            }
        });
    }
}

/// What a batch's use cases leave for its end, in the order they left it.
enum Deferred {
    /// Runs once the batch has committed.
    AfterCommit(Box<dyn FnOnce()>),
    /// Written just before the commit, together with the other items of its kind.
    Flush {
        kind: &'static str,
        item: Box<dyn std::any::Any>,
        flush: FlushFn,
    },
}

/// One use case's deferred item, typed by its kind's flush function.
pub type Item = Box<dyn std::any::Any>;

/// Writes every deferred item of one kind, in the order the use cases left them.
pub type FlushFn = fn(&mut DbConnection, Vec<Item>) -> Result<(), StoreError>;

thread_local! {
    /// Set when a statement on this thread lost a lock race (see [`note_lock_conflict`]).
    static LOCK_CONFLICT: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };

    /// The running batch's deferred work; `None` outside a batch.
    static DEFERRED: std::cell::RefCell<Option<Vec<Deferred>>> =
        const { std::cell::RefCell::new(None) };
}

/// Records that a statement on this thread failed in a deadlock or a serialization
/// failure, so the writer can run its use case again (the error value itself is the
/// use case's own type by then).
pub(super) fn note_lock_conflict() {
    LOCK_CONFLICT.with(|l| l.set(true));
}

/// Runs `action` once the current write is durable: after its batch commits, or at once
/// outside the pipeline (the CLI's own transactions). A use case that fails drops its
/// actions. For effects outside the database that must not run ahead of the commit,
/// such as invalidating a cache.
pub fn after_commit(action: impl FnOnce() + 'static) {
    if let Err(Deferred::AfterCommit(action)) = defer(Deferred::AfterCommit(Box::new(action))) {
        action();
    }
}

/// Leaves `item` to be written by `flush` at the end of the current batch, inside its
/// transaction, with every other item of `kind` the batch's use cases left (so a batch
/// numbers and writes its events once, not once per use case). Outside a batch it
/// hands `item` back, to be written at once.
pub fn flush_before_commit(
    kind: &'static str,
    item: Box<dyn std::any::Any>,
    flush: FlushFn,
) -> Result<(), Box<dyn std::any::Any>> {
    match defer(Deferred::Flush { kind, item, flush }) {
        Ok(()) => Ok(()),
        Err(Deferred::Flush { item, .. }) => Err(item),
        Err(Deferred::AfterCommit(_)) => unreachable!("defer hands back what it was given"),
    }
}

fn defer(item: Deferred) -> Result<(), Deferred> {
    DEFERRED.with(|d| match d.borrow_mut().as_mut() {
        Some(items) => {
            items.push(item);
            Ok(())
        }
        None => Err(item),
    })
}

/// How much deferred work the batch holds; a savepoint that rolls back truncates to it.
pub(super) fn deferred_len() -> usize {
    DEFERRED.with(|d| d.borrow().as_ref().map_or(0, Vec::len))
}

pub(super) fn drop_deferred_after(count: usize) {
    DEFERRED.with(|d| {
        if let Some(items) = d.borrow_mut().as_mut() {
            items.truncate(count);
        }
    });
}

/// Writes the batch's deferred items, kind by kind in order of first appearance; returns
/// the actions to run after the commit.
fn flush_deferred(conn: &mut DbConnection) -> Result<Vec<Box<dyn FnOnce()>>, StoreError> {
    let items = DEFERRED.with(|d| d.borrow_mut().take()).unwrap_or_default();
    let mut actions = Vec::new();
    let mut kinds: Vec<(&'static str, FlushFn, Vec<Item>)> = Vec::new();
    for item in items {
        match item {
            Deferred::AfterCommit(action) => actions.push(action),
            Deferred::Flush { kind, item, flush } => match kinds.iter_mut().find(|k| k.0 == kind) {
                Some(k) => k.2.push(item),
                None => kinds.push((kind, flush, vec![item])),
            },
        }
    }
    for (_, flush, items) in kinds {
        flush(conn, items)?;
    }
    Ok(actions)
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A writer that panicked while holding the queue left it consistent: every change
    // to it is a single step.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn unavailable(why: &str) -> StoreError {
    StoreError::Unavailable(why.to_owned().into())
}

type Reply<T, E> = Arc<Mutex<Option<tokio::sync::oneshot::Sender<Result<T, E>>>>>;

fn send<T, E>(reply: &Reply<T, E>, result: Result<T, E>) {
    if let Some(tx) = lock(reply).take() {
        // The request may be gone; its result then has nobody to tell.
        let _ = tx.send(result);
    }
}

/// Marks a job its request no longer waits for; true if it had not started.
fn abandon(state: &AtomicU8) -> bool {
    state
        .compare_exchange(QUEUED, ABANDONED, Ordering::SeqCst, Ordering::SeqCst)
        .is_ok()
}

struct AbandonOnDrop(Arc<AtomicU8>);

impl Drop for AbandonOnDrop {
    fn drop(&mut self) {
        abandon(&self.0);
    }
}

/// Runs `f` in a savepoint of the batch's transaction: its error, or its panic, undoes
/// its own writes and nothing else.
fn isolated<T, E>(
    conn: &mut DbConnection,
    f: impl FnOnce(&mut DbConnection) -> Result<T, E>,
) -> Result<T, E>
where
    E: From<StoreError>,
{
    let depth = conn::depth(conn);
    if let Err(e) = conn::begin(conn) {
        return Err(E::from(StoreError::from(e)));
    }
    let deferred = deferred_len();
    let outcome = savepoint_outcome(conn, depth, f);
    if outcome.is_err() {
        drop_deferred_after(deferred);
    }
    outcome
}

fn savepoint_outcome<T, E>(
    conn: &mut DbConnection,
    depth: u32,
    f: impl FnOnce(&mut DbConnection) -> Result<T, E>,
) -> Result<T, E>
where
    E: From<StoreError>,
{
    match catch_unwind(AssertUnwindSafe(|| f(conn))) {
        Ok(Ok(value)) => match conn::end(conn, true) {
            Ok(()) => Ok(value),
            Err(e) => {
                conn::unwind_to(conn, depth);
                Err(E::from(StoreError::from(e)))
            }
        },
        Ok(Err(e)) => {
            conn::unwind_to(conn, depth);
            Err(e)
        }
        Err(_) => {
            conn::unwind_to(conn, depth);
            Err(E::from(StoreError::Panicked))
        }
    }
}

fn writer(shared: &Shared) {
    loop {
        let Some((batch, keys, shard)) = next_batch(shared) else {
            return;
        };
        let leftovers = run_batch(shared, batch, shard);
        let mut guard = lock(&shared.queues);
        let q = &mut *guard;
        // Unfinished jobs go back to the front, in order, to run next.
        for job in leftovers.into_iter().rev() {
            let queue = q.by_key.entry(job.key.clone()).or_default();
            if queue.is_empty() {
                q.turns.push_front(job.key.clone());
            }
            queue.push_front(job);
            q.waiting += 1;
        }
        for key in &keys {
            if let Some(busy) = q.busy.get_mut(key) {
                busy.writers -= 1;
                busy.shards &= !(1 << shard);
                if busy.writers == 0 {
                    q.busy.remove(key);
                }
            }
        }
        drop(guard);
        shared.ready.notify_all();
    }
}

/// Waits for work and takes a batch: keys in turn, one job each per round, skipping
/// keys `writers_per_key` other writers are working on. `None` when the pipeline is
/// closed and empty.
fn next_batch(shared: &Shared) -> Option<(Vec<Job>, Vec<Arc<str>>, u32)> {
    let mut q = lock(&shared.queues);
    loop {
        let settings = &shared.settings;
        let (batch, keys) = take(
            &mut q,
            settings.max_batch.max(1),
            settings.writers_per_key.max(1),
        );
        if !batch.is_empty() {
            let shard = claim_shard(&mut q, &keys);
            return Some((batch, keys, shard));
        }
        if shared.closed.load(Ordering::SeqCst) && q.waiting == 0 {
            return None;
        }
        q = shared
            .ready
            .wait_timeout(q, Duration::from_secs(1))
            .unwrap_or_else(|p| p.into_inner())
            .0;
    }
}

/// The lowest row-count shard no other writer on any of `keys` counts into, claimed on
/// each. PostgreSQL's row-count triggers add into the batch's shard of a bucket, so two
/// batches of one tenant never wait for each other's counter rows (nor deadlock on them
/// taking buckets in different orders). A batch of tenants no other writer works on
/// counts into shard 0, so a tenant's shards stay at most `writers` (the bits are per
/// process: another roster process counts into the same shards, as it did before).
fn claim_shard(q: &mut Queues, keys: &[Arc<str>]) -> u32 {
    let taken = keys
        .iter()
        .filter_map(|k| q.busy.get(k))
        .fold(0u64, |taken, b| taken | b.shards);
    // Each other writer holds one bit, and writers are far fewer than 64.
    let shard = (!taken).trailing_zeros().min(63);
    for key in keys {
        if let Some(busy) = q.busy.get_mut(key) {
            busy.shards |= 1 << shard;
        }
    }
    shard
}

/// Takes a batch and registers its keys as busy. A key's next job joins if the key has
/// room: fewer than `per_key` writers and none alone on it, or, for a job that cannot
/// run twice, no other writer at all (it then has the key alone).
fn take(q: &mut Queues, max: usize, per_key: usize) -> (Vec<Job>, Vec<Arc<str>>) {
    let mut batch = Vec::new();
    let mut keys: Vec<Arc<str>> = Vec::new();
    loop {
        let mut progressed = false;
        for _ in 0..q.turns.len() {
            let Some(key) = q.turns.pop_front() else {
                break;
            };
            let mine = keys.contains(&key);
            let rerunnable = q
                .by_key
                .get(&key)
                .and_then(|queue| queue.front())
                .is_some_and(|job| job.rerunnable);
            let others = q
                .busy
                .get(&key)
                .map_or(0, |b| b.writers - usize::from(mine));
            let alone = q.busy.get(&key).is_some_and(|b| b.alone);
            let room = if rerunnable {
                mine || (!alone && others < per_key)
            } else {
                others == 0
            };
            if !room {
                q.turns.push_back(key);
                continue;
            }
            let Some(queue) = q.by_key.get_mut(&key) else {
                continue;
            };
            let Some(job) = queue.pop_front() else {
                q.by_key.remove(&key);
                continue;
            };
            let busy = q.busy.entry(key.clone()).or_default();
            if !mine {
                busy.writers += 1;
            }
            busy.alone |= !job.rerunnable;
            if queue.is_empty() {
                q.by_key.remove(&key);
            } else {
                q.turns.push_back(key.clone());
            }
            q.waiting -= 1;
            if !mine {
                keys.push(key);
            }
            batch.push(job);
            progressed = true;
            if batch.len() >= max {
                return (batch, keys);
            }
        }
        if !progressed {
            return (batch, keys);
        }
    }
}

/// Runs a batch in one transaction and answers it; returns the jobs the budget left.
fn run_batch(shared: &Shared, batch: Vec<Job>, shard: u32) -> Vec<Job> {
    let settings = &shared.settings;
    let mut conn = match shared.pool.get() {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!(error = %e, "no database connection for a write batch");
            refuse_all(batch, "no database connection");
            shared.stats.failed_batches.fetch_add(1, Ordering::Relaxed);
            return Vec::new();
        }
    };
    if let Err(e) = conn::begin_batch(&mut conn, shard) {
        tracing::warn!(error = %crate::error_chain(&e), "could not begin a write batch");
        refuse_all(batch, "the database refused a transaction");
        shared.stats.failed_batches.fetch_add(1, Ordering::Relaxed);
        return Vec::new();
    }
    let started = Instant::now();
    DEFERRED.with(|d| *d.borrow_mut() = Some(Vec::new()));
    let mut answers: Vec<Answer> = Vec::with_capacity(batch.len());
    // Jobs that lost a lock race: they run again after this batch commits.
    let mut reruns: Vec<Job> = Vec::new();
    let mut jobs = batch.into_iter();
    for mut job in jobs.by_ref() {
        if job.enqueued.elapsed() > settings.queue_timeout {
            if abandon(&job.state) {
                shared.stats.timed_out.fetch_add(1, Ordering::Relaxed);
                (job.refuse)("timed out waiting for a database writer");
            }
            continue;
        }
        if job
            .state
            .compare_exchange(QUEUED, STARTED, Ordering::SeqCst, Ordering::SeqCst)
            .is_err()
        {
            continue; // its request went away
        }
        match (job.run)(&mut conn) {
            Some(answer) => answers.push(answer),
            None => {
                shared.stats.reruns.fetch_add(1, Ordering::Relaxed);
                job.state.store(QUEUED, Ordering::SeqCst);
                reruns.push(job);
            }
        }
        if started.elapsed() >= settings.batch_budget {
            break;
        }
    }
    reruns.extend(jobs);
    let leftovers = reruns;
    shared.stats.observe(answers.len());
    let committed = flush_deferred(&mut conn).and_then(|actions| {
        conn::end(&mut conn, true)
            .map(|()| actions)
            .map_err(StoreError::from)
    });
    match committed {
        Ok(actions) => {
            for action in actions {
                action();
            }
            if let Some((commits, wake)) = &shared.checkpoint {
                *lock(commits) += 1;
                wake.notify_one();
            }
            shared
                .stats
                .committed
                .fetch_add(answers.len() as u64, Ordering::Relaxed);
            for answer in answers {
                answer(None);
            }
        }
        Err(e) => {
            tracing::warn!(error = %crate::error_chain(&e), size = answers.len(), "a write batch failed to commit");
            conn::unwind_to(&mut conn, 0);
            shared.stats.failed_batches.fetch_add(1, Ordering::Relaxed);
            for answer in answers {
                answer(Some("the commit failed"));
            }
        }
    }
    leftovers
}

/// Copies committed WAL frames into the SQLite database file beside the writer, so
/// that commits seldom stop for a checkpoint (and its fsync) themselves. PASSIVE never
/// waits for the writer or blocks it; SQLite restarts the WAL from its start once a
/// checkpoint has caught up.
fn checkpointer(shared: &Shared) {
    let Some((commits, wake)) = &shared.checkpoint else {
        return;
    };
    loop {
        let mut pending = lock(commits);
        while *pending == 0 {
            if shared.closed.load(Ordering::SeqCst) {
                return;
            }
            pending = wake
                .wait_timeout(pending, Duration::from_secs(1))
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
        *pending = 0;
        drop(pending);
        // Let a few batches land between checkpoints.
        std::thread::sleep(Duration::from_millis(100));
        let done = shared
            .pool
            .get()
            .map_err(StoreError::from)
            .and_then(|mut c| conn::checkpoint(&mut c).map_err(StoreError::from));
        if let Err(e) = done {
            tracing::debug!(error = %crate::error_chain(&e), "WAL checkpoint skipped");
        }
    }
}

fn refuse_all(batch: Vec<Job>, why: &str) {
    for job in batch {
        if job
            .state
            .compare_exchange(QUEUED, STARTED, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok()
        {
            (job.refuse)(why);
        }
    }
}
