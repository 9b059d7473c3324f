//! Outbound webhooks, the parts that talk to the outside: which URLs roster may call
//! (`guard`), how a message is signed (`signature`) and the client that sends one
//! delivery (`client`). Endpoints and the delivery state machine are
//! `service::webhooks`; the worker that drives it is `jobs`'.

pub mod client;
pub mod guard;
pub mod signature;
