//! A noisy tenant beside a quiet one (reliability.md T26): the quiet tenant's look-ups at
//! a steady rate, timed alone and then while another tenant sends ten times its limit.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::{empty_phase, encode, timed, Client, Phase};

pub struct Noisy {
    pub quiet: Client,
    pub noisy: Client,
    /// Requests per second of each side.
    pub quiet_rate: u32,
    pub noisy_rate: u32,
    pub seconds: u64,
    pub noisy_clients: usize,
}

const USERS: usize = 200;

impl Noisy {
    pub fn run(&self) -> Vec<Phase> {
        let agent = ureq::AgentBuilder::new()
            .timeout(Duration::from_secs(30))
            .build();
        for client in [&self.quiet, &self.noisy] {
            for i in 0..USERS {
                let user = json!({"userName": format!("noisy.{i}@example.com")});
                // Already there from an earlier run is fine.
                let _ = client.send(&agent, "POST", "/Users", Some(&user));
            }
        }
        let mut solo = empty_phase("quiet_tenant_alone");
        self.quiet_load(&agent, &mut solo);
        let mut beside = empty_phase("quiet_tenant_beside_noisy");
        let mut noisy = empty_phase("noisy_tenant_10x_its_limit");
        let (ok, limited) = (AtomicUsize::new(0), AtomicUsize::new(0));
        let stop = AtomicBool::new(false);
        let noisy_started = Instant::now();
        std::thread::scope(|s| {
            let handles: Vec<_> = (0..self.noisy_clients)
                .map(|_| {
                    let (ok, limited, stop) = (&ok, &limited, &stop);
                    s.spawn(move || self.noisy_load(ok, limited, stop))
                })
                .collect();
            // Let the noisy tenant's burst allowance run out first.
            std::thread::sleep(Duration::from_secs(2));
            self.quiet_load(&agent, &mut beside);
            stop.store(true, Ordering::SeqCst);
            for h in handles {
                let (latencies, errors, first) = h.join().unwrap();
                noisy.latencies.extend(latencies);
                noisy.errors += errors;
                if noisy.first_error.is_none() {
                    noisy.first_error = first;
                }
            }
        });
        noisy.elapsed = noisy_started.elapsed();
        noisy.ops = noisy.latencies.len();
        let (ok, limited) = (ok.into_inner(), limited.into_inner());
        noisy.extra.insert("accepted".into(), ok.into());
        noisy.extra.insert("status_429".into(), limited.into());
        let ratio = beside.percentile(99.0) / solo.percentile(99.0).max(f64::EPSILON);
        beside.extra.insert("p99_over_alone".into(), ratio.into());
        eprintln!(
            "noisy tenant: {ok} accepted, {limited} answered 429; quiet tenant's p99 beside it: {ratio:.2}× alone"
        );
        vec![solo, beside, noisy]
    }

    /// `quiet_rate` look-ups per second for `seconds`, each timed from its slot.
    fn quiet_load(&self, agent: &ureq::Agent, phase: &mut Phase) {
        let interval = Duration::from_secs_f64(1.0 / f64::from(self.quiet_rate.max(1)));
        let started = Instant::now();
        let total = self.seconds * u64::from(self.quiet_rate);
        for i in 0..total {
            let slot = started + interval * i as u32;
            if let Some(wait) = slot.checked_duration_since(Instant::now()) {
                std::thread::sleep(wait);
            }
            let name = format!("noisy.{}@example.com", i as usize % USERS);
            let filter = encode(&format!("userName eq \"{name}\""));
            timed(phase, || {
                self.quiet
                    .send(agent, "GET", &format!("/Users?filter={filter}"), None)
            });
        }
        phase.elapsed = started.elapsed();
        phase.ops = phase.latencies.len();
    }

    /// This client's share of `noisy_rate`, paced, until `stop`: (latencies, errors
    /// other than 429, first such error).
    fn noisy_load(
        &self,
        ok: &AtomicUsize,
        limited: &AtomicUsize,
        stop: &AtomicBool,
    ) -> (Vec<Duration>, usize, Option<String>) {
        let agent = ureq::AgentBuilder::new()
            .timeout(Duration::from_secs(30))
            .build();
        let per_client = f64::from(self.noisy_rate) / self.noisy_clients.max(1) as f64;
        let interval = Duration::from_secs_f64(1.0 / per_client.max(0.001));
        let (mut latencies, mut errors, mut first) = (Vec::new(), 0, None);
        let started = Instant::now();
        for i in 0.. {
            if stop.load(Ordering::SeqCst) {
                break;
            }
            let slot = started + interval * i;
            if let Some(wait) = slot.checked_duration_since(Instant::now()) {
                std::thread::sleep(wait);
            }
            let name = format!("noisy.{}@example.com", i as usize % USERS);
            let filter = encode(&format!("userName eq \"{name}\""));
            let sent = Instant::now();
            let result = self
                .noisy
                .send(&agent, "GET", &format!("/Users?filter={filter}"), None);
            latencies.push(sent.elapsed());
            match result {
                Ok(_) => {
                    ok.fetch_add(1, Ordering::Relaxed);
                }
                Err(e) if e.starts_with("429") => {
                    limited.fetch_add(1, Ordering::Relaxed);
                }
                Err(e) => {
                    errors += 1;
                    first.get_or_insert(e);
                }
            }
        }
        (latencies, errors, first)
    }
}
