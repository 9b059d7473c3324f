//! roster's integration tests: one binary, a real app on a fresh database per test.

mod helpers;

mod admin_login;
mod admin_screens;
mod auth;
mod backup;
mod body_fuzz;
mod bootstrap;
mod browser;
mod bulk;
pub mod cli;
mod concurrency;
mod discovery;
mod emails;
mod errors;
mod etags;
mod faults;
mod filter_fuzz;
mod filters;
mod groups;
pub mod jumpcloud;
mod limits;
mod operations;
mod paging;
mod projection;
mod read_only;
pub mod roles;
mod snapshots;
mod storage;
mod sync_log;
mod tenant_lifecycle;
mod ui_logs;
mod ui_mapping;
mod users;
mod webhooks;
mod write_path;
