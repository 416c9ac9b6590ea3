//! Host functions and outbound HTTP, from wasmcluster's own host module
//! (`wasmcluster`; see ../../ABI.md).
//!
//! ```ignore
//! let greeting = wasmcluster_guest::capabilities::call("greet", b"Ada")?;
//! let res = wasmcluster_guest::capabilities::fetch("GET", "https://api.example.com/v1", b"")?;
//! ```

use std::fmt;

/// The raw imports of the module `wasmcluster`.
pub mod sys {
    #[link(wasm_import_module = "wasmcluster")]
    extern "C" {
        pub fn read_result(buf: *mut u8, limit: i32) -> i32;
        pub fn last_error(buf: *mut u8, limit: i32) -> i32;
        pub fn call(name: *const u8, name_len: i32, input: *const u8, in_len: i32, buf: *mut u8, limit: i32) -> i64;
        pub fn http_request(method: *const u8, method_len: i32, url: *const u8, url_len: i32) -> i64;
        pub fn http_header(h: i32, name: *const u8, name_len: i32, value: *const u8, value_len: i32) -> i64;
        pub fn http_write(h: i32, chunk: *const u8, len: i32) -> i64;
        pub fn http_send(h: i32, buf: *mut u8, limit: i32) -> i64;
        pub fn http_read(h: i32, buf: *mut u8, limit: i32) -> i64;
        pub fn http_close(h: i32) -> i64;
    }
}

/// Why a call into the module failed.
#[derive(Debug, PartialEq)]
pub enum Error {
    /// The call failed; the host's message says why.
    Failed(String),
    /// No such function, key or handle.
    NotFound,
    /// A compare-and-swap found another value.
    Conflict,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self {
            Error::Failed(msg) => f.write_str(msg),
            Error::NotFound => f.write_str("not found"),
            Error::Conflict => f.write_str("conflict"),
        }
    }
}

impl std::error::Error for Error {}

/// Turns a call's i64 into its result: `buf[..r]` if it fit, else read
/// with read_result.
pub(crate) fn result(r: i64, mut buf: Vec<u8>) -> Result<Vec<u8>, Error> {
    match r {
        -2 => return Err(Error::NotFound),
        -3 => return Err(Error::Conflict),
        r if r < 0 => {
            let msg = crate::field(|p, l| unsafe { sys::last_error(p, l) });
            return Err(Error::Failed(String::from_utf8_lossy(&msg).into_owned()));
        }
        _ => {}
    }
    let n = r as usize;
    if n > buf.len() {
        buf.resize(n, 0);
        unsafe { sys::read_result(buf.as_mut_ptr(), n as i32) };
    }
    buf.truncate(n);
    Ok(buf)
}

/// Calls the host function `name` of the embedding program with `input`.
pub fn call(name: &str, input: &[u8]) -> Result<Vec<u8>, Error> {
    let mut buf = vec![0u8; 4096];
    let r = unsafe {
        sys::call(name.as_ptr(), name.len() as i32, input.as_ptr(), input.len() as i32, buf.as_mut_ptr(), buf.len() as i32)
    };
    result(r, buf)
}

/// A response to `fetch`.
pub struct FetchResponse {
    /// The status code.
    pub status: u16,
    /// The headers, names as the server sent them.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

/// Sends `method url` with `body` (empty: none) through the host, to a
/// destination its allow-list names, and reads the whole response.
pub fn fetch(method: &str, url: &str, body: &[u8]) -> Result<FetchResponse, Error> {
    let h = unsafe { sys::http_request(method.as_ptr(), method.len() as i32, url.as_ptr(), url.len() as i32) };
    result(h, Vec::new())?;
    let h = h as i32;
    let res = exchange(h, body);
    unsafe { sys::http_close(h) };
    res
}

fn exchange(h: i32, body: &[u8]) -> Result<FetchResponse, Error> {
    if !body.is_empty() {
        result(unsafe { sys::http_write(h, body.as_ptr(), body.len() as i32) }, Vec::new())?;
    }
    let mut buf = vec![0u8; 4096];
    let head = result(unsafe { sys::http_send(h, buf.as_mut_ptr(), buf.len() as i32) }, buf)?;
    let mut parts = head.split(|&c| c == 0).map(|s| String::from_utf8_lossy(s).into_owned());
    let status = parts.next().and_then(|s| s.parse().ok()).unwrap_or(0);
    let rest: Vec<String> = parts.collect();
    let headers = rest.chunks_exact(2).map(|kv| (kv[0].clone(), kv[1].clone())).collect();
    let mut out = Vec::new();
    let mut chunk = vec![0u8; 16384];
    loop {
        let r = unsafe { sys::http_read(h, chunk.as_mut_ptr(), chunk.len() as i32) };
        if r == 0 {
            break;
        }
        let got = result(r, std::mem::take(&mut chunk))?;
        out.extend_from_slice(&got);
        chunk = got;
        chunk.resize(16384, 0);
    }
    Ok(FetchResponse { status, headers, body: out })
}
