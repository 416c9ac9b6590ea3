//! A handler that exercises the Rust SDK for sdk_test.go: the path picks
//! the behaviour.

use wasmcluster_guest::{handler, Next, Request, Response};

fn sdk(req: &Request, res: &Response) -> Next {
    match req.path().as_str() {
        "/names" => res.write(req.header_names().join(",").as_bytes()),
        "/values" => res.write(req.header_values("x-multi").join(",").as_bytes()),
        "/query" => {
            let q = req.query("q");
            let len = q.as_ref().map(|v| v.len() as i64).unwrap_or(-1);
            let absent = if req.query("absent").is_some() { 0 } else { -1 };
            res.write(format!("{}:{}|{}", len, q.unwrap_or_default(), absent).as_bytes());
        }
        "/remove" => {
            res.set_header("X-Gone", "1");
            res.remove_header("X-Gone");
            res.add_header("Set-Cookie", "a=1");
            res.add_header("Set-Cookie", "b=2");
        }
        "/next" => {
            req.set_header("X-Set", "set");
            req.add_header("X-Multi", "added");
            req.remove_header("X-Drop");
            req.set_method("PUT");
            req.set_uri("/rewritten?x=1");
            return Next::Continue;
        }
        _ => res.set_status(404),
    }
    Next::Done
}

handler!(sdk);
