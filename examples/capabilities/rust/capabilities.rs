//! Host functions and outbound HTTP in Rust, on guest-sdk/rust (built as
//! examples/hello-wasm/rust/hello.rs is).
//!
//! GET /greet?NAME answers what the host function "greet" makes of NAME;
//! GET /fetch?URL answers the status and body of GET URL; a failure
//! answers 502 and its message.

use wasmcluster_guest::capabilities::{call, fetch, Error};
use wasmcluster_guest::{handler, Next, Request, Response};

fn serve(req: &Request, res: &Response) -> Next {
    let uri = req.uri();
    let query = uri.split_once('?').map(|(_, q)| q).unwrap_or("");
    let answer = if uri.starts_with("/greet?") {
        call("greet", query.as_bytes())
    } else if uri.starts_with("/fetch?") {
        fetch("GET", query, b"").map(|r| [format!("{} ", r.status).into_bytes(), r.body].concat())
    } else {
        Err(Error::NotFound)
    };
    match answer {
        Ok(body) => res.write(&body),
        Err(Error::NotFound) => res.set_status(404),
        Err(e) => {
            res.set_status(502);
            res.write(format!("error: {}", e).as_bytes());
        }
    }
    Next::Done
}

handler!(serve);
