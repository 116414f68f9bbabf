//! Compiles Pulumi's gRPC protocol from `proto/pulumi.fds.bin` (descriptors taken from the PyPI `pulumi` wheel by
//! `scripts/gen-proto-descriptors.py`): no protoc needed, and the protocol matches a current Pulumi release.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=proto/pulumi.fds.bin");
    let bytes = std::fs::read("proto/pulumi.fds.bin")?;
    let fds = <prost_types::FileDescriptorSet as prost::Message>::decode(bytes.as_slice())?;
    tonic_prost_build::configure()
        .build_server(true)
        .build_client(true)
        .compile_fds(fds)?;
    Ok(())
}
