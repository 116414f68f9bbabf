//! Fuzz target: parse a service catalog and apply a stack's `services` overrides to it. The input is the catalog,
//! a NUL byte, then the stack file holding the overrides (decrypted with a fixed passphrase key). Any panic, stack
//! overflow or hang is a bug; errors are the expected outcome for bad input.
#![no_main]

use libfuzzer_sys::fuzz_target;

mod stack_key;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (catalog, stack_file) = text.split_once('\0').unwrap_or((text, ""));
    let _ = sophia::fuzzing::services_yaml(catalog, stack_key::PROJECT, stack_file, stack_key::crypter());
});
