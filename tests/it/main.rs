//! healthchat's integration tests, one binary (as cargo's and xh's): the real `healthchat`
//! against a local Hub (`testhub`) over the golden fixtures, one module per area, and the
//! property tests of the byte-exact writers. The harness is `support`.
//!
//! One module: `cargo test --test it cache::`.

mod support;

mod cache;
mod dataset;
mod diff;
mod generate;
mod hostile;
mod integrity;
mod leniency;
mod local_annotations;
mod lying_footer;
mod messages;
mod network;
mod progress;
mod properties;
mod reliability;
mod reproduce;
mod storage;
mod verified;
mod workflow;
