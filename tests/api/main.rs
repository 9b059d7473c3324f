//! roster's integration tests: one binary, a real app on a fresh database per test.

mod helpers;

mod auth;
mod bulk;
mod cli;
mod concurrency;
mod discovery;
mod errors;
mod etags;
mod filter_fuzz;
mod filters;
mod groups;
mod jumpcloud;
mod operations;
mod storage;
mod users;
mod webhooks;
