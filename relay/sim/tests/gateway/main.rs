//! End-to-end tests of the simulator over real HTTP (reqwest against `zatca_sim::spawn`).

mod support;

mod answers;
mod documents;
mod faults;
mod onboarding;
mod process;
mod surface;
