// The hello handler in AssemblyScript, on guest-sdk/assemblyscript.
//
//   guest-sdk/assemblyscript/node_modules/.bin/asc examples/hello-wasm/assemblyscript/hello.ts \
//       -O3 --use abort= -o hello.wasm
//
// GET /any/path answers "Hello from wasmcluster: /any/path"; a POST echoes
// its body. Every response carries X-Hello: wasmcluster.
import { Request, Response, Next } from "../../../guest-sdk/assemblyscript/assembly/index";
export { handle_response } from "../../../guest-sdk/assemblyscript/assembly/index";

const buf = new ArrayBuffer(64 * 1024);

export function handle_request(): i64 {
  const req = new Request();
  const res = new Response();
  res.setHeader("X-Hello", "wasmcluster");
  res.setHeader("Content-Type", "text/plain; charset=utf-8");
  if (req.method() == "POST") {
    for (let n = req.read(buf); n >= 0; n = req.read(buf)) {
      res.write(buf, n);
    }
    return Next.Done;
  }
  res.writeString("Hello from wasmcluster: " + req.path() + "\n");
  return Next.Done;
}
