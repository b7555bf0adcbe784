//! All of palabre-core's integration tests, in one binary (one link on a 2-core machine).

mod core {
    pub mod audit;
    pub mod ceremony;
    pub mod counting;
    pub mod deps;
    pub mod fuzz;
    pub mod keys;
    pub mod opening;
    pub mod opening_faults;
    pub mod opening_vectors;
    pub mod properties;
    pub mod purge;
    pub mod quotas;
    pub mod rejections;
    pub mod secret;
    pub mod shuffle;
    pub mod staff;
    pub mod vectors;
}
