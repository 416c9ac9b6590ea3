// Host functions and outbound HTTP in AssemblyScript, on
// guest-sdk/assemblyscript (built as examples/hello-wasm/assemblyscript is).
//
// GET /greet?NAME answers what the host function "greet" makes of NAME;
// GET /fetch?URL answers the status and body of GET URL; a failure answers
// 502 and its message.
import { Request, Response } from "../../../guest-sdk/assemblyscript/assembly/index";
import { call, fetch, Result } from "../../../guest-sdk/assemblyscript/assembly/capabilities";
export { handle_response } from "../../../guest-sdk/assemblyscript/assembly/index";

export function handle_request(): i64 {
  const uri = new Request().uri();
  const res = new Response();
  const q = uri.indexOf("?");
  const query = q < 0 ? "" : uri.substring(q + 1);
  let r: Result;
  let prefix = "";
  if (uri.startsWith("/greet?")) {
    r = call("greet", String.UTF8.encode(query));
  } else if (uri.startsWith("/fetch?")) {
    const f = fetch("GET", query);
    prefix = f.status.toString() + " ";
    r = f;
  } else {
    res.setStatus(404);
    return 0;
  }
  if (!r.ok) {
    res.setStatus(r.notFound ? 404 : 502);
    res.writeString("error: " + r.error);
    return 0;
  }
  res.writeString(prefix);
  res.write(r.value);
  return 0;
}
