//! The two small languages of fly-autoscaler's configuration, parsed at validation with the
//! position of every problem and evaluated during a run: [`expr`] (the Expr machine counts)
//! and [`promql`] (the Prometheus queries of its metric collectors).
//!
//! Depends on nothing: a query reads its samples through [`promql::Samples`], which the
//! platform implements.

pub mod expr;
pub mod promql;
