//! Fuzz target: read `sophia impact`'s input (a rendered manifest stream or a `pulumi stack export` document) into a
//! snapshot and report its impact against an empty snapshot and itself. Any panic, stack overflow or hang is a bug;
//! errors are the expected outcome for bad input.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = sophia::fuzzing::impact_inputs(text);
});
