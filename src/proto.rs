//! Pulumi's gRPC protocol (`pulumirpc`), generated at build time from descriptors in the PyPI `pulumi` wheel
//! (see `build.rs`). The provider serves `ResourceProvider`; the program's test engine double serves
//! `ResourceMonitor` and `Engine`.
#![allow(missing_docs, clippy::all)]

/// The `pulumirpc` package: provider, resource monitor, engine, plugin and alias messages and services.
pub mod pulumirpc {
    tonic::include_proto!("pulumirpc");
}
