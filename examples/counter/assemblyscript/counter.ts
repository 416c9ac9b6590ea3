// The counter example in AssemblyScript, on guest-sdk/assemblyscript (built
// as examples/hello-wasm/assemblyscript is): POST / adds one to "hits" in
// the store "default" and answers the new count; GET / answers the count.
import { Request, Response } from "../../../guest-sdk/assemblyscript/assembly/index";
import * as kv from "../../../guest-sdk/assemblyscript/assembly/kv";
export { handle_response } from "../../../guest-sdk/assemblyscript/assembly/index";

export function handle_request(): i64 {
  const res = new Response();
  res.setHeader("Content-Type", "text/plain; charset=utf-8");
  if (new Request().method() == "POST") {
    const r = kv.increment("default", "hits", 1);
    if (!r.ok) return fail(res, r.error);
    res.writeString(kv.counter(r).toString() + "\n");
    return 0;
  }
  const r = kv.get("default", "hits");
  if (r.notFound) {
    res.writeString("0\n");
  } else if (!r.ok) {
    return fail(res, r.error);
  } else {
    res.writeString(String.UTF8.decode(r.value) + "\n");
  }
  return 0;
}

function fail(res: Response, msg: string): i64 {
  res.setStatus(503);
  res.writeString(msg + "\n");
  return 0;
}
