//! The counter example on guest-sdk/rust: POST / adds one to "hits" in the
//! store "default" and answers the new count; GET / answers the count.
//!
//!   rustc --edition 2021 --target wasm32-wasi --crate-type=rlib -O --crate-name wasmcluster_guest \
//!       guest-sdk/rust/src/lib.rs -o libwasmcluster_guest.rlib
//!   rustc --edition 2021 --target wasm32-wasi --crate-type=cdylib -O \
//!       --extern wasmcluster_guest=libwasmcluster_guest.rlib -o counter.wasm examples/counter/rust/counter.rs

use wasmcluster_guest::{handler, kv, Next, Request, Response};

fn count(req: &Request, res: &Response) -> Next {
    res.set_header("Content-Type", "text/plain; charset=utf-8");
    let store = kv::default();
    let answer = if req.method() == "POST" {
        store.increment("hits", 1).map(|n| n.to_string().into_bytes())
    } else {
        store.get("hits").map(|v| v.unwrap_or_else(|| b"0".to_vec()))
    };
    match answer {
        Ok(mut body) => {
            body.push(b'\n');
            res.write(&body);
        }
        Err(e) => {
            res.set_status(503);
            res.write(format!("{}\n", e).as_bytes());
        }
    }
    Next::Done
}

handler!(count);
