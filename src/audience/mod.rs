//! audience (work in progress)
