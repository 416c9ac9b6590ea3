//! A server-sent-events handler on guest-sdk/rust: four events, 200 ms
//! apart, each flushed to the client as it is written.
//!
//!   rustc --edition 2021 --target wasm32-wasi --crate-type=rlib -O --crate-name wasmcluster_guest \
//!       guest-sdk/rust/src/lib.rs -o libwasmcluster_guest.rlib
//!   rustc --edition 2021 --target wasm32-wasi --crate-type=cdylib -O \
//!       --extern wasmcluster_guest=libwasmcluster_guest.rlib -o sse.wasm examples/sse/rust/sse.rs

use std::thread::sleep;
use std::time::Duration;
use wasmcluster_guest::{flush, handler, Next, Request, Response};

fn sse(_req: &Request, res: &Response) -> Next {
    res.set_header("Content-Type", "text/event-stream");
    res.set_header("Cache-Control", "no-cache");
    for i in 1..=4 {
        if i > 1 {
            sleep(Duration::from_millis(200));
        }
        res.write(format!("data: tick {}\n\n", i).as_bytes());
        flush();
    }
    Next::Done
}

handler!(sse);
