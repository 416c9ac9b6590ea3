//! The hello handler in Rust, on guest-sdk/rust (no other crates).
//!
//!   rustc --edition 2021 --target wasm32-wasi --crate-type=rlib -O --crate-name wasmcluster_guest \
//!       guest-sdk/rust/src/lib.rs -o libwasmcluster_guest.rlib
//!   rustc --edition 2021 --target wasm32-wasi --crate-type=cdylib -O \
//!       --extern wasmcluster_guest=libwasmcluster_guest.rlib -o hello.wasm examples/hello-wasm/rust/hello.rs
//!
//! GET /any/path answers "Hello from wasmcluster: /any/path"; a POST echoes
//! its body. Every response carries X-Hello: wasmcluster.

use std::io;
use wasmcluster_guest::{handler, Next, Request, Response};

fn hello(req: &Request, res: &Response) -> Next {
    res.set_header("X-Hello", "wasmcluster");
    res.set_header("Content-Type", "text/plain; charset=utf-8");
    if req.method() == "POST" {
        let _ = io::copy(&mut req.body(), &mut &*res);
        return Next::Done;
    }
    res.write(b"Hello from wasmcluster: ");
    res.write(req.path().as_bytes());
    res.write(b"\n");
    Next::Done
}

handler!(hello);
