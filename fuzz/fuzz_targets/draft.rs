#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| palabre_web::staff::fuzzing::draft(data));
