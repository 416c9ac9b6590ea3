//! A handler that drives every call of the Rust SDK's kv module for
//! kv_test.go, on the store "default" (the protocol is in kv_test.go).

use std::io::Read;
use wasmcluster_guest::{handler, kv, Next, Request, Response};

fn answer(res: &Response, status: u16, body: &[u8]) -> Next {
    res.set_status(status);
    res.write(body);
    Next::Done
}

/// Answers a call's result; found false is 404, or 409 for a swap.
fn outcome(res: &Response, r: Result<bool, kv::Error>, miss: u16) -> Next {
    match r {
        Ok(true) => answer(res, 200, b""),
        Ok(false) => answer(res, miss, b""),
        Err(e) => answer(res, 503, e.to_string().as_bytes()),
    }
}

fn serve(req: &Request, res: &Response) -> Next {
    let store = kv::default();
    let path = req.path();
    let method = req.method();
    let mut body = Vec::new();
    let _ = req.body().read_to_end(&mut body);
    if let Some(key) = path.strip_prefix("/k/") {
        return match method.as_str() {
            "PUT" => {
                let ttl = req.header("x-ttl").and_then(|t| t.parse().ok()).unwrap_or(0);
                outcome(res, store.set(key, &body, ttl).map(|_| true), 404)
            }
            "GET" => match store.get(key) {
                Ok(Some(v)) => answer(res, 200, &v),
                Ok(None) => answer(res, 404, b""),
                Err(e) => answer(res, 503, e.to_string().as_bytes()),
            },
            "DELETE" => outcome(res, store.delete(key), 404),
            "HEAD" => outcome(res, store.exists(key), 404),
            _ => answer(res, 405, b""),
        };
    }
    if let Some(key) = path.strip_prefix("/inc/") {
        return match store.increment(key, 1) {
            Ok(n) => answer(res, 200, n.to_string().as_bytes()),
            Err(e) => answer(res, 503, e.to_string().as_bytes()),
        };
    }
    if let Some(key) = path.strip_prefix("/swap/") {
        let old = req.header("x-old");
        return outcome(res, store.compare_and_swap(key, old.as_deref().map(str::as_bytes), &body), 409);
    }
    if let Some(prefix) = path.strip_prefix("/list/") {
        let after = req.header("x-after").unwrap_or_default();
        let limit = req.header("x-limit").and_then(|l| l.parse().ok()).unwrap_or(0);
        return match store.list(prefix, &after, limit) {
            Ok(keys) => answer(res, 200, keys.join("\n").as_bytes()),
            Err(e) => answer(res, 503, e.to_string().as_bytes()),
        };
    }
    answer(res, 404, b"")
}

handler!(serve);
