// Streaming: flush, from wasmcluster's own host module (see ../../ABI.md).

@external("wasmcluster", "flush") declare function wasmcluster_flush(): i64;

/**
 * Sends the status, the headers and the body written so far to the client
 * now, to stream (server-sent events, progress). False while the host
 * buffers the response (feature buffer response). Other http-wasm hosts do
 * not provide it.
 */
export function flush(): bool { return wasmcluster_flush() >= 0; }
