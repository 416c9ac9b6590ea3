// Write wasmcluster (http-wasm) handlers in AssemblyScript.
//
//   import { Request, Response, Next } from "wasmcluster-guest/assembly";
//
//   export function handle_request(): i64 {
//     const res = new Response();
//     res.setHeader("X-Hello", "wasmcluster");
//     res.writeString("Hello from wasmcluster: " + new Request().path() + "\n");
//     return Next.Done;
//   }
//   export { handle_response } from "wasmcluster-guest/assembly";
//
// Build with: asc handler.ts -O3 --use abort= -o handler.wasm
// (--use abort= leaves out the env.abort import the host does not provide).

// The raw imports of the ABI (module http_handler); see ../../ABI.md.
@external("http_handler", "enable_features") declare function enable_features(features: i32): i32;
@external("http_handler", "get_config") declare function get_config(buf: usize, limit: i32): i32;
@external("http_handler", "log_enabled") declare function log_enabled(level: i32): i32;
@external("http_handler", "log") declare function log_message(level: i32, msg: usize, len: i32): void;
@external("http_handler", "get_method") declare function get_method(buf: usize, limit: i32): i32;
@external("http_handler", "get_uri") declare function get_uri(buf: usize, limit: i32): i32;
@external("http_handler", "get_protocol_version") declare function get_protocol_version(buf: usize, limit: i32): i32;
@external("http_handler", "get_source_addr") declare function get_source_addr(buf: usize, limit: i32): i32;
@external("http_handler", "set_method") declare function set_method(method: usize, len: i32): void;
@external("http_handler", "set_uri") declare function set_uri(uri: usize, len: i32): void;
@external("http_handler", "get_header_names") declare function get_header_names(kind: i32, buf: usize, limit: i32): i64;
@external("http_handler", "remove_header") declare function remove_header(kind: i32, name: usize, nameLen: i32): void;
@external("http_handler", "get_header_values") declare function get_header_values(kind: i32, name: usize, nameLen: i32, buf: usize, limit: i32): i64;
@external("http_handler", "set_header_value") declare function set_header_value(kind: i32, name: usize, nameLen: i32, value: usize, valueLen: i32): void;
@external("http_handler", "add_header_value") declare function add_header_value(kind: i32, name: usize, nameLen: i32, value: usize, valueLen: i32): void;
@external("http_handler", "read_body") declare function read_body(kind: i32, buf: usize, limit: i32): i64;
@external("http_handler", "write_body") declare function write_body(kind: i32, body: usize, len: i32): void;
@external("http_handler", "set_status_code") declare function set_status_code(code: i32): void;

export { flush } from "./flush";

const REQUEST: i32 = 0;
const RESPONSE: i32 = 1;

/** What handle_request returns. */
export namespace Next {
  /** The handler answered. */
  export const Done: i64 = 0;
  /** Pass the request on to the host's next handler. */
  export const Continue: i64 = 1;
}

/** Log levels. */
export enum Level { Debug = -1, Info = 0, Warn = 1, Error = 2 }

// One buffer for every field read from the host.
let scratch = new ArrayBuffer(1024);

/** Reads a field with the ABI's buf/buf_limit convention, as UTF-8. */
function field(get: (buf: usize, limit: i32) => i32): string {
  let n = get(changetype<usize>(scratch), scratch.byteLength);
  if (n > scratch.byteLength) {
    scratch = new ArrayBuffer(n);
    n = get(changetype<usize>(scratch), scratch.byteLength);
  }
  return String.UTF8.decodeUnsafe(changetype<usize>(scratch), n);
}

/** Grows scratch when a list result (count << 32 | len) did not fit; true if it grew. */
function grow(r: i64): bool {
  const len = <i32>(r & 0xffffffff);
  if (len <= scratch.byteLength) return false;
  scratch = new ArrayBuffer(len);
  return true;
}

/** The NUL-terminated list a list result (count << 32 | len) left in scratch. */
function splitList(r: i64): string[] {
  const out = new Array<string>();
  const len = <i32>(r & 0xffffffff);
  if (len == 0) return out;
  const parts = String.UTF8.decodeUnsafe(changetype<usize>(scratch), len).split("\0");
  for (let i = 0; i < parts.length - 1; i++) out.push(parts[i]);
  return out;
}

/** set_header_value or add_header_value on a header of kind. */
function putHeader(kind: i32, name: string, value: string, add: bool): void {
  const n = String.UTF8.encode(name);
  const v = String.UTF8.encode(value);
  if (add) add_header_value(kind, changetype<usize>(n), n.byteLength, changetype<usize>(v), v.byteLength);
  else set_header_value(kind, changetype<usize>(n), n.byteLength, changetype<usize>(v), v.byteLength);
}

/** remove_header on a header of kind. */
function removeHeader(kind: i32, name: string): void {
  const n = String.UTF8.encode(name);
  remove_header(kind, changetype<usize>(n), n.byteLength);
}

/** The request being served. */
export class Request {
  /** The method, e.g. "GET". */
  method(): string { return field(get_method); }
  /** The request URI, path and query, e.g. "/a?b=1". */
  uri(): string { return field(get_uri); }
  /** The path: the URI up to its '?'. */
  path(): string {
    const uri = this.uri();
    const q = uri.indexOf("?");
    return q < 0 ? uri : uri.substring(0, q);
  }
  /** The protocol, e.g. "HTTP/1.1". */
  protocol(): string { return field(get_protocol_version); }
  /** The client's address. */
  sourceAddr(): string { return field(get_source_addr); }
  /** Every request header name, lowercase. */
  headerNames(): string[] {
    let r = get_header_names(REQUEST, changetype<usize>(scratch), scratch.byteLength);
    if (grow(r)) r = get_header_names(REQUEST, changetype<usize>(scratch), scratch.byteLength);
    return splitList(r);
  }
  /** Every value of a request header; the name is case-insensitive. */
  headerValues(name: string): string[] {
    const n = String.UTF8.encode(name);
    let r = get_header_values(REQUEST, changetype<usize>(n), n.byteLength, changetype<usize>(scratch), scratch.byteLength);
    if (grow(r)) {
      r = get_header_values(REQUEST, changetype<usize>(n), n.byteLength, changetype<usize>(scratch), scratch.byteLength);
    }
    return splitList(r);
  }
  /** The first value of a request header, or null. */
  header(name: string): string | null {
    const values = this.headerValues(name);
    return values.length == 0 ? null : values[0];
  }
  /** Sets a request header, before passing the request on. */
  setHeader(name: string, value: string): void { putHeader(REQUEST, name, value, false); }
  /** Adds a value to a request header, before passing the request on. */
  addHeader(name: string, value: string): void { putHeader(REQUEST, name, value, true); }
  /** Removes a request header, before passing the request on. */
  removeHeader(name: string): void { removeHeader(REQUEST, name); }
  /** Sets the method, before passing the request on. */
  setMethod(method: string): void {
    const m = String.UTF8.encode(method);
    set_method(changetype<usize>(m), m.byteLength);
  }
  /** Sets the request URI (path and query, percent-encoded), before passing the request on. */
  setUri(uri: string): void {
    const u = String.UTF8.encode(uri);
    set_uri(changetype<usize>(u), u.byteLength);
  }
  /** Reads the rest of the body and returns it as UTF-8 text. */
  text(): string {
    let data = new Uint8Array(0);
    const chunk = new ArrayBuffer(4096);
    for (let n = this.read(chunk); n >= 0; n = this.read(chunk)) {
      const grown = new Uint8Array(data.length + n);
      grown.set(data);
      grown.set(Uint8Array.wrap(chunk, 0, n), data.length);
      data = grown;
    }
    return String.UTF8.decode(data.buffer);
  }
  /** Reads the next chunk of the body into buf; returns its length, or -1 at the end. */
  read(buf: ArrayBuffer): i32 {
    if (this.eof) return -1;
    const r = read_body(REQUEST, changetype<usize>(buf), buf.byteLength);
    this.eof = (r >> 32) != 0;
    const n = <i32>(r & 0xffffffff);
    return n == 0 && this.eof ? -1 : n;
  }
  private eof: bool = false;
}

/** The response being written: set status and headers, then write. */
export class Response {
  /** Sets the status (default 200). */
  setStatus(code: i32): void { set_status_code(code); }
  /** Sets a response header. */
  setHeader(name: string, value: string): void { putHeader(RESPONSE, name, value, false); }
  /** Adds a value to a response header (several Set-Cookie). */
  addHeader(name: string, value: string): void { putHeader(RESPONSE, name, value, true); }
  /** Removes a response header. */
  removeHeader(name: string): void { removeHeader(RESPONSE, name); }
  /** Writes len bytes of buf; the first write sends status and headers. */
  write(buf: ArrayBuffer, len: i32 = buf.byteLength): void {
    write_body(RESPONSE, changetype<usize>(buf), len);
  }
  /** Writes a string as UTF-8. */
  writeString(s: string): void { this.write(String.UTF8.encode(s)); }
}

/** The operator's configuration, as UTF-8. */
export function config(): string { return field(get_config); }

/** Logs a message to the host's log. */
export function log(level: Level, msg: string): void {
  if (log_enabled(level) == 0) return;
  const m = String.UTF8.encode(msg);
  log_message(level, changetype<usize>(m), m.byteLength);
}

/** Enables features (1 buffer request, 2 buffer response, 4 trailers). */
export function enableFeatures(features: i32): i32 { return enable_features(features); }

/** A handle_response that does nothing; re-export it from your module. */
export function handle_response(reqCtx: i32, isError: i32): void {}
