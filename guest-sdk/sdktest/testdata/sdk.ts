// A handler that exercises the AssemblyScript SDK for sdk_test.go: the
// path picks the behaviour.
import { Request, Response, Next } from "../../assemblyscript/assembly/index";
export { handle_response } from "../../assemblyscript/assembly/index";

export function handle_request(): i64 {
  const req = new Request();
  const res = new Response();
  const path = req.path();
  if (path == "/names") {
    res.writeString(req.headerNames().join(","));
  } else if (path == "/values") {
    res.writeString(req.headerValues("x-multi").join(","));
  } else if (path == "/text") {
    res.writeString("got " + req.text());
  } else if (path == "/remove") {
    res.setHeader("X-Gone", "1");
    res.removeHeader("X-Gone");
    res.addHeader("Set-Cookie", "a=1");
    res.addHeader("Set-Cookie", "b=2");
  } else if (path == "/next") {
    req.setHeader("X-Set", "set");
    req.addHeader("X-Multi", "added");
    req.removeHeader("X-Drop");
    req.setMethod("PUT");
    req.setUri("/rewritten?x=1");
    return Next.Continue;
  } else {
    res.setStatus(404);
  }
  return Next.Done;
}
