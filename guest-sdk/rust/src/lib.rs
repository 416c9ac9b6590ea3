//! Write wasmcluster handlers in Rust: a safe API over the http-wasm
//! handler ABI, with no dependencies.
//!
//! ```ignore
//! use wasmcluster_guest::{handler, Next, Request, Response};
//!
//! fn hello(req: &Request, res: &Response) -> Next {
//!     res.set_header("X-Hello", "wasmcluster");
//!     res.write(format!("Hello from wasmcluster: {}\n", req.path()).as_bytes());
//!     Next::Done
//! }
//!
//! handler!(hello);
//! ```
//!
//! Build for `wasm32-wasi` as a `cdylib`; see the README beside this crate.

use std::io;

mod flush;
mod query;
pub use flush::flush;
pub use query::{parse_query, percent_decode};
pub mod capabilities;
pub mod kv;

/// The raw imports of the ABI (module `http_handler`); see ../../ABI.md.
pub mod sys {
    #[link(wasm_import_module = "http_handler")]
    extern "C" {
        pub fn enable_features(features: i32) -> i32;
        pub fn get_config(buf: *mut u8, limit: i32) -> i32;
        pub fn log_enabled(level: i32) -> i32;
        pub fn log(level: i32, msg: *const u8, len: i32);
        pub fn get_method(buf: *mut u8, limit: i32) -> i32;
        pub fn set_method(method: *const u8, len: i32);
        pub fn get_uri(buf: *mut u8, limit: i32) -> i32;
        pub fn set_uri(uri: *const u8, len: i32);
        pub fn get_protocol_version(buf: *mut u8, limit: i32) -> i32;
        pub fn get_source_addr(buf: *mut u8, limit: i32) -> i32;
        pub fn get_header_names(kind: i32, buf: *mut u8, limit: i32) -> i64;
        pub fn get_header_values(kind: i32, name: *const u8, name_len: i32, buf: *mut u8, limit: i32) -> i64;
        pub fn set_header_value(kind: i32, name: *const u8, name_len: i32, value: *const u8, value_len: i32);
        pub fn add_header_value(kind: i32, name: *const u8, name_len: i32, value: *const u8, value_len: i32);
        pub fn remove_header(kind: i32, name: *const u8, name_len: i32);
        pub fn read_body(kind: i32, buf: *mut u8, limit: i32) -> i64;
        pub fn write_body(kind: i32, body: *const u8, len: i32);
        pub fn get_status_code() -> i32;
        pub fn set_status_code(code: i32);
    }
}

const REQUEST: i32 = 0;
const RESPONSE: i32 = 1;

/// What a handler returns.
pub enum Next {
    /// The handler answered.
    Done,
    /// Pass the request on to the host's next handler.
    Continue,
}

/// Log levels.
#[derive(Clone, Copy)]
pub enum Level {
    Debug = -1,
    Info = 0,
    Warn = 1,
    Error = 2,
}

/// Reads a field with the ABI's buf/buf_limit convention: ask, grow,
/// ask again.
fn field(get: impl Fn(*mut u8, i32) -> i32) -> Vec<u8> {
    let mut buf = vec![0u8; 256];
    let mut n = get(buf.as_mut_ptr(), buf.len() as i32) as usize;
    if n > buf.len() {
        buf.resize(n, 0);
        n = get(buf.as_mut_ptr(), buf.len() as i32) as usize;
    }
    buf.truncate(n);
    buf
}

fn text(b: Vec<u8>) -> String {
    String::from_utf8(b).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// Splits a NUL-terminated list.
fn list(get: impl Fn(*mut u8, i32) -> i64) -> Vec<String> {
    let b = field(|p, l| (get(p, l) & 0xffff_ffff) as i32);
    b.split(|&c| c == 0)
        .filter(|s| !s.is_empty())
        .map(|s| String::from_utf8_lossy(s).into_owned())
        .collect()
}

/// The request being served.
pub struct Request;

impl Request {
    /// The method, e.g. "GET".
    pub fn method(&self) -> String {
        text(field(|p, l| unsafe { sys::get_method(p, l) }))
    }

    /// The request URI, path and query, e.g. "/a?b=1".
    pub fn uri(&self) -> String {
        text(field(|p, l| unsafe { sys::get_uri(p, l) }))
    }

    /// The path: the URI up to its '?'.
    pub fn path(&self) -> String {
        let uri = self.uri();
        match uri.find('?') {
            Some(i) => uri[..i].to_string(),
            None => uri,
        }
    }

    /// The protocol, e.g. "HTTP/1.1".
    pub fn protocol(&self) -> String {
        text(field(|p, l| unsafe { sys::get_protocol_version(p, l) }))
    }

    /// The client's address, e.g. "127.0.0.1:5000".
    pub fn source_addr(&self) -> String {
        text(field(|p, l| unsafe { sys::get_source_addr(p, l) }))
    }

    /// The names of the request headers, lowercase.
    pub fn header_names(&self) -> Vec<String> {
        list(|p, l| unsafe { sys::get_header_names(REQUEST, p, l) })
    }

    /// Every value of a request header (the name is case-insensitive).
    pub fn header_values(&self, name: &str) -> Vec<String> {
        list(|p, l| unsafe { sys::get_header_values(REQUEST, name.as_ptr(), name.len() as i32, p, l) })
    }

    /// The first value of a request header.
    pub fn header(&self, name: &str) -> Option<String> {
        self.header_values(name).into_iter().next()
    }

    /// The query string: the URI after its '?', still encoded.
    pub fn raw_query(&self) -> String {
        let uri = self.uri();
        uri.split_once('?').map(|(_, q)| q.to_string()).unwrap_or_default()
    }

    /// The decoded pairs of the query, in order.
    pub fn query_pairs(&self) -> Vec<(String, String)> {
        parse_query(&self.raw_query())
    }

    /// The first value of the query parameter `key`, decoded.
    pub fn query(&self, key: &str) -> Option<String> {
        self.query_pairs().into_iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// The request body as a stream.
    pub fn body(&self) -> Body {
        Body { eof: false }
    }

    /// Sets a request header, before passing the request on.
    pub fn set_header(&self, name: &str, value: &str) {
        unsafe { sys::set_header_value(REQUEST, name.as_ptr(), name.len() as i32, value.as_ptr(), value.len() as i32) }
    }

    /// Adds a value to a request header, before passing the request on.
    pub fn add_header(&self, name: &str, value: &str) {
        unsafe { sys::add_header_value(REQUEST, name.as_ptr(), name.len() as i32, value.as_ptr(), value.len() as i32) }
    }

    /// Removes a request header, before passing the request on.
    pub fn remove_header(&self, name: &str) {
        unsafe { sys::remove_header(REQUEST, name.as_ptr(), name.len() as i32) }
    }

    /// Sets the method, before passing the request on.
    pub fn set_method(&self, method: &str) {
        unsafe { sys::set_method(method.as_ptr(), method.len() as i32) }
    }

    /// Sets the request URI (path and query, percent-encoded), before
    /// passing the request on.
    pub fn set_uri(&self, uri: &str) {
        unsafe { sys::set_uri(uri.as_ptr(), uri.len() as i32) }
    }
}

/// The request body; read it in chunks with `std::io::Read`.
pub struct Body {
    eof: bool,
}

impl io::Read for Body {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.eof || buf.is_empty() {
            return Ok(0);
        }
        let r = unsafe { sys::read_body(REQUEST, buf.as_mut_ptr(), buf.len() as i32) };
        self.eof = (r >> 32) != 0;
        Ok((r & 0xffff_ffff) as usize)
    }
}

/// The response being written. Set the status and headers, then write:
/// the first write sends them.
pub struct Response;

impl Response {
    /// Sets the status (default 200).
    pub fn set_status(&self, code: u16) {
        unsafe { sys::set_status_code(code as i32) }
    }

    /// Sets a response header.
    pub fn set_header(&self, name: &str, value: &str) {
        unsafe { sys::set_header_value(RESPONSE, name.as_ptr(), name.len() as i32, value.as_ptr(), value.len() as i32) }
    }

    /// Adds a value to a response header (several Set-Cookie).
    pub fn add_header(&self, name: &str, value: &str) {
        unsafe { sys::add_header_value(RESPONSE, name.as_ptr(), name.len() as i32, value.as_ptr(), value.len() as i32) }
    }

    /// Removes a response header.
    pub fn remove_header(&self, name: &str) {
        unsafe { sys::remove_header(RESPONSE, name.as_ptr(), name.len() as i32) }
    }

    /// Writes body bytes.
    pub fn write(&self, body: &[u8]) {
        unsafe { sys::write_body(RESPONSE, body.as_ptr(), body.len() as i32) }
    }
}

impl io::Write for &Response {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        Response::write(self, buf);
        Ok(buf.len())
    }

    /// Sends what was written so far to the client at once (see
    /// [`flush`]).
    fn flush(&mut self) -> io::Result<()> {
        flush();
        Ok(())
    }
}

/// The operator's configuration bytes.
pub fn config() -> Vec<u8> {
    field(|p, l| unsafe { sys::get_config(p, l) })
}

/// Logs a message to the host's log.
pub fn log(level: Level, msg: &str) {
    unsafe {
        if sys::log_enabled(level as i32) != 0 {
            sys::log(level as i32, msg.as_ptr(), msg.len() as i32);
        }
    }
}

/// Registers `f(&Request, &Response) -> Next` as the handler: it defines
/// the module's handle_request and handle_response exports.
#[macro_export]
macro_rules! handler {
    ($f:path) => {
        #[no_mangle]
        pub extern "C" fn handle_request() -> i64 {
            match $f(&$crate::Request, &$crate::Response) {
                $crate::Next::Done => 0,
                $crate::Next::Continue => 1,
            }
        }

        #[no_mangle]
        pub extern "C" fn handle_response(_req_ctx: i32, _is_error: i32) {}
    };
}
