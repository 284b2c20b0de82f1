//! The durable job queue: jobs live in the database (`jobs` table), a worker claims due ones
//! with a lease, runs them, and records done / retry-with-back-off / failed. Start-up releases
//! jobs left running by a previous process, so onboarding resumes after a restart.

pub mod worker;

pub use worker::{Worker, WorkerHandle};
