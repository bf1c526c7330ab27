//! campaign (work in progress)
