//! Fuzz target: decode arbitrary bytes as a protobuf `Struct` and read it as provider request properties (the
//! Struct ⇄ Value wire decoding, then the `SecretHash` inputs and stored state). Any panic, stack overflow or hang is
//! a bug; errors are the expected outcome for bad input.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    sophia::fuzzing::provider_wire(data);
});
