//! Fuzz target: parse a `Pulumi.<stack>.yaml` and decrypt its `secure:` values with a fixed passphrase key. Any
//! panic, stack overflow or hang is a bug; errors are the expected outcome for bad input.
#![no_main]

use libfuzzer_sys::fuzz_target;

mod stack_key;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = sophia::fuzzing::stack_file(stack_key::PROJECT, text, stack_key::crypter());
});
