// Key-value stores shared by every worker, from wasmcluster's own host
// module (see ../../ABI.md, "Key-value stores"). Every function names its
// store ("default" unless the operator gave others) and returns a Result:
// ok, notFound (the key is not set), or error (the message; "conflict"
// when a compare-and-swap found another value).
//
//   import * as kv from "wasmcluster-guest/assembly/kv";
//   const hits = kv.counter(kv.increment("default", "hits", 1));

import { result, Result } from "./capabilities";

@external("wasmcluster", "kv_get") declare function kv_get(s: usize, sl: i32, k: usize, kl: i32, buf: usize, limit: i32): i64;
@external("wasmcluster", "kv_set") declare function kv_set(s: usize, sl: i32, k: usize, kl: i32, v: usize, vl: i32, ttl: i64): i64;
@external("wasmcluster", "kv_delete") declare function kv_delete(s: usize, sl: i32, k: usize, kl: i32): i64;
@external("wasmcluster", "kv_exists") declare function kv_exists(s: usize, sl: i32, k: usize, kl: i32): i64;
@external("wasmcluster", "kv_list") declare function kv_list(s: usize, sl: i32, p: usize, pl: i32, a: usize, al: i32, limit: i32, buf: usize, bufLimit: i32): i64;
@external("wasmcluster", "kv_increment") declare function kv_increment(s: usize, sl: i32, k: usize, kl: i32, delta: i64, buf: usize, limit: i32): i64;
@external("wasmcluster", "kv_cas") declare function kv_cas(s: usize, sl: i32, k: usize, kl: i32, o: usize, ol: i32, v: usize, vl: i32, ttl: i64): i64;

const empty = new ArrayBuffer(0);

function ptr(b: ArrayBuffer): usize { return changetype<usize>(b); }

/** The value of key. */
export function get(store: string, key: string): Result {
  const s = String.UTF8.encode(store), k = String.UTF8.encode(key);
  const buf = new ArrayBuffer(4096);
  return result(kv_get(ptr(s), s.byteLength, ptr(k), k.byteLength, ptr(buf), buf.byteLength), buf);
}

/** Sets key to value; ttlMillis > 0 expires it after that. */
export function set(store: string, key: string, value: ArrayBuffer, ttlMillis: i64 = 0): Result {
  const s = String.UTF8.encode(store), k = String.UTF8.encode(key);
  return result(kv_set(ptr(s), s.byteLength, ptr(k), k.byteLength, ptr(value), value.byteLength, ttlMillis), empty);
}

/** Removes key: notFound when it was not set. */
export function del(store: string, key: string): Result {
  const s = String.UTF8.encode(store), k = String.UTF8.encode(key);
  return result(kv_delete(ptr(s), s.byteLength, ptr(k), k.byteLength), empty);
}

/** ok when key is set, notFound when not. */
export function exists(store: string, key: string): Result {
  const s = String.UTF8.encode(store), k = String.UTF8.encode(key);
  return result(kv_exists(ptr(s), s.byteLength, ptr(k), k.byteLength), empty);
}

/** Up to limit keys (0: the most the host allows) that start with prefix,
 * in byte order, after after ("" for the first page); read them with
 * keys(). */
export function list(store: string, prefix: string, after: string = "", limit: i32 = 0): Result {
  const s = String.UTF8.encode(store), p = String.UTF8.encode(prefix), a = String.UTF8.encode(after);
  const buf = new ArrayBuffer(4096);
  return result(kv_list(ptr(s), s.byteLength, ptr(p), p.byteLength, ptr(a), a.byteLength, limit, ptr(buf), buf.byteLength), buf);
}

/** The keys an ok list() returned; the last is the next page's after. */
export function keys(r: Result): string[] {
  const out = new Array<string>();
  const p = ptr(r.value);
  let start = 0;
  for (let i = 0; i < r.value.byteLength; i++) {
    if (load<u8>(p + i) == 0) {
      out.push(String.UTF8.decodeUnsafe(p + start, i - start));
      start = i + 1;
    }
  }
  return out;
}

/** Adds delta to the counter at key, atomically; read it with counter(). */
export function increment(store: string, key: string, delta: i64): Result {
  const s = String.UTF8.encode(store), k = String.UTF8.encode(key);
  const buf = new ArrayBuffer(8);
  return result(kv_increment(ptr(s), s.byteLength, ptr(k), k.byteLength, delta, ptr(buf), 8), buf);
}

/** The new value an ok increment() returned. */
export function counter(r: Result): i64 { return load<i64>(ptr(r.value)); }

/** Sets key to value if it holds old (null: is not set); error "conflict"
 * when it held something else. */
export function compareAndSwap(store: string, key: string, old: ArrayBuffer | null, value: ArrayBuffer): Result {
  const s = String.UTF8.encode(store), k = String.UTF8.encode(key);
  const r = old == null
    ? kv_cas(ptr(s), s.byteLength, ptr(k), k.byteLength, 0, -1, ptr(value), value.byteLength, 0)
    : kv_cas(ptr(s), s.byteLength, ptr(k), k.byteLength, ptr(old), old.byteLength, ptr(value), value.byteLength, 0);
  if (r == -3) {
    const out = new Result();
    out.error = "conflict";
    return out;
  }
  return result(r, empty);
}
