// Host functions and outbound HTTP from wasmcluster's own host module
// (wasmcluster; see ../../ABI.md).
//
//   import { call, fetch } from "wasmcluster-guest/assembly/capabilities";
//   const r = call("greet", String.UTF8.encode("Ada"));
//   if (r.ok) res.write(r.value); else res.writeString(r.error);

@external("wasmcluster", "read_result") declare function read_result(buf: usize, limit: i32): i32;
@external("wasmcluster", "last_error") declare function last_error(buf: usize, limit: i32): i32;
@external("wasmcluster", "call") declare function host_call(name: usize, nameLen: i32, input: usize, inLen: i32, buf: usize, limit: i32): i64;
@external("wasmcluster", "http_request") declare function http_request(method: usize, methodLen: i32, url: usize, urlLen: i32): i64;
@external("wasmcluster", "http_write") declare function http_write(h: i32, chunk: usize, len: i32): i64;
@external("wasmcluster", "http_send") declare function http_send(h: i32, buf: usize, limit: i32): i64;
@external("wasmcluster", "http_read") declare function http_read(h: i32, buf: usize, limit: i32): i64;
@external("wasmcluster", "http_close") declare function http_close(h: i32): i64;

/** The result of a call into the module: a value, or why there is none. */
export class Result {
  /** The call succeeded. */
  ok: bool = false;
  /** No such function or handle (code -2). */
  notFound: bool = false;
  /** The result's bytes, when ok. */
  value: ArrayBuffer = new ArrayBuffer(0);
  /** The host's message, when the call failed. */
  error: string = "";
}

/** Turns a call's i64 into a Result, with buf as the call's buffer. */
export function result(r: i64, buf: ArrayBuffer): Result {
  const out = new Result();
  if (r == -2) {
    out.notFound = true;
    out.error = "not found";
    return out;
  }
  if (r < 0) {
    const msg = new ArrayBuffer(1024);
    const n = last_error(changetype<usize>(msg), msg.byteLength);
    out.error = String.UTF8.decodeUnsafe(changetype<usize>(msg), min(n, msg.byteLength));
    return out;
  }
  out.ok = true;
  const n = <i32>r;
  if (n > buf.byteLength) {
    out.value = new ArrayBuffer(n);
    read_result(changetype<usize>(out.value), n);
  } else {
    out.value = buf.slice(0, n);
  }
  return out;
}

/** Calls the host function name of the embedding program with input. */
export function call(name: string, input: ArrayBuffer): Result {
  const n = String.UTF8.encode(name);
  const buf = new ArrayBuffer(4096);
  return result(host_call(changetype<usize>(n), n.byteLength, changetype<usize>(input), input.byteLength,
    changetype<usize>(buf), buf.byteLength), buf);
}

/** A response to fetch: ok, status and body, or error. */
export class FetchResponse extends Result {
  status: i32 = 0;
}

/** Sends method url with body through the host, to a destination its
 * allow-list names, and reads the whole response body into value. */
export function fetch(method: string, url: string, body: ArrayBuffer | null = null): FetchResponse {
  const res = new FetchResponse();
  const m = String.UTF8.encode(method);
  const u = String.UTF8.encode(url);
  const h64 = http_request(changetype<usize>(m), m.byteLength, changetype<usize>(u), u.byteLength);
  if (h64 < 0) return fail(res, result(h64, new ArrayBuffer(0)));
  const h = <i32>h64;
  if (body != null && body.byteLength > 0) {
    const w = http_write(h, changetype<usize>(body), body.byteLength);
    if (w < 0) { http_close(h); return fail(res, result(w, new ArrayBuffer(0))); }
  }
  const headBuf = new ArrayBuffer(4096);
  const head = result(http_send(h, changetype<usize>(headBuf), headBuf.byteLength), headBuf);
  if (!head.ok) { http_close(h); return fail(res, head); }
  const headText = String.UTF8.decode(head.value);
  res.status = I32.parseInt(headText.substring(0, headText.indexOf("\0")));
  let all = new Uint8Array(0);
  const chunk = new ArrayBuffer(16384);
  for (;;) {
    const r = http_read(h, changetype<usize>(chunk), chunk.byteLength);
    if (r == 0) break;
    if (r < 0) { http_close(h); return fail(res, result(r, chunk)); }
    const grown = new Uint8Array(all.length + <i32>r);
    grown.set(all);
    grown.set(Uint8Array.wrap(chunk, 0, <i32>r), all.length);
    all = grown;
  }
  http_close(h);
  res.ok = true;
  res.value = all.buffer;
  return res;
}

function fail(res: FetchResponse, r: Result): FetchResponse {
  res.notFound = r.notFound;
  res.error = r.error;
  return res;
}
