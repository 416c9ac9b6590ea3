// A handler that drives every call of the AssemblyScript SDK's kv module
// for kv_test.go, on the store "default" (the protocol is in kv_test.go).
import { Request, Response } from "../../assemblyscript/assembly/index";
import { Result } from "../../assemblyscript/assembly/capabilities";
import * as kv from "../../assemblyscript/assembly/kv";
export { handle_response } from "../../assemblyscript/assembly/index";

const STORE = "default";

function answer(res: Response, status: i32, body: string): i64 {
  res.setStatus(status);
  res.writeString(body);
  return 0;
}

// outcome answers a call that returns no value: 200, or miss when the key
// is not set (or a swap found another value), or 503 with the message.
function outcome(res: Response, r: Result, miss: i32): i64 {
  if (r.ok) return answer(res, 200, "");
  if (r.notFound || r.error == "conflict") return answer(res, miss, "");
  return answer(res, 503, r.error);
}

function header(req: Request, name: string, otherwise: string): string {
  const v = req.header(name);
  return v == null ? otherwise : v;
}

export function handle_request(): i64 {
  const req = new Request();
  const res = new Response();
  const path = req.path();
  const method = req.method();
  if (path.startsWith("/k/")) {
    const key = path.substring(3);
    if (method == "PUT") {
      const ttl = I64.parseInt(header(req, "x-ttl", "0"));
      return outcome(res, kv.set(STORE, key, String.UTF8.encode(req.text()), ttl), 404);
    }
    if (method == "GET") {
      const r = kv.get(STORE, key);
      if (!r.ok) return outcome(res, r, 404);
      res.setStatus(200);
      res.write(r.value);
      return 0;
    }
    if (method == "DELETE") return outcome(res, kv.del(STORE, key), 404);
    if (method == "HEAD") return outcome(res, kv.exists(STORE, key), 404);
  }
  if (path.startsWith("/inc/")) {
    const r = kv.increment(STORE, path.substring(5), 1);
    if (!r.ok) return outcome(res, r, 404);
    return answer(res, 200, kv.counter(r).toString());
  }
  if (path.startsWith("/swap/")) {
    const old = req.header("x-old");
    const value = String.UTF8.encode(req.text());
    const r = kv.compareAndSwap(STORE, path.substring(6), old == null ? null : String.UTF8.encode(old), value);
    return outcome(res, r, 409);
  }
  if (path.startsWith("/list/")) {
    const limit = I32.parseInt(header(req, "x-limit", "0"));
    const r = kv.list(STORE, path.substring(6), header(req, "x-after", ""), limit);
    if (!r.ok) return outcome(res, r, 404);
    return answer(res, 200, kv.keys(r).join("\n"));
  }
  return answer(res, 404, "");
}
