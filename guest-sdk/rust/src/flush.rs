//! Streaming: flush, from wasmcluster's own host module (see ../../ABI.md).

#[link(wasm_import_module = "wasmcluster")]
extern "C" {
    #[link_name = "flush"]
    fn wasmcluster_flush() -> i64;
}

/// Sends the status, the headers and the body written so far to the
/// client now, to stream (server-sent events, progress). False while the
/// host buffers the response (feature buffer response). Other http-wasm
/// hosts do not provide it.
pub fn flush() -> bool {
    unsafe { wasmcluster_flush() >= 0 }
}
