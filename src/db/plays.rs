//! Queries on the listening log.
