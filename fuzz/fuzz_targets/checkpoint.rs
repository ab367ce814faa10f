//! Checkpoint loading. An even first byte: the rest is a whole checkpoint file. An odd one: the
//! rest is the JSON metadata, put into a well-formed safetensors file without weights, so that
//! the fuzzer spends its time on the metadata rather than on the safetensors header.
#![no_main]

use std::collections::HashMap;

use libfuzzer_sys::fuzz_target;
use skipless::recommend::checkpoint::Checkpoint;

fuzz_target!(|data: &[u8]| {
    let Some((&which, rest)) = data.split_first() else { return };
    let path = std::path::Path::new("model.safetensors");
    if which % 2 == 0 {
        let _ = Checkpoint::from_bytes(rest, path);
        return;
    }
    let Ok(json) = std::str::from_utf8(rest) else { return };
    let no_tensors: Vec<(&str, safetensors::tensor::TensorView)> = Vec::new();
    let Ok(bytes) = safetensors::serialize(no_tensors, Some(HashMap::from([("skipless".to_owned(), json.to_owned())])))
    else {
        return;
    };
    let _ = Checkpoint::from_bytes(&bytes, path);
});
