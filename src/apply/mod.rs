//! Apply: execute a plan's writes, survive every documented API failure, and
//! verify convergence. (Filled in by the apply issue.)
