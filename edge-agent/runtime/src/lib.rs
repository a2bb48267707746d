//! Action runtimes: processes speaking the OpenWhisk action-runtime protocol, and the warm pool that keeps them.
