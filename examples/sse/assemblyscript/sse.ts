// A server-sent-events handler on guest-sdk/assemblyscript: four events,
// 200 ms apart, each flushed to the client as it is written.
//
//   guest-sdk/assemblyscript/node_modules/.bin/asc examples/sse/assemblyscript/sse.ts \
//       -O3 --use abort= -o sse.wasm
import { Response, Next, flush } from "../../../guest-sdk/assemblyscript/assembly/index";
export { handle_response } from "../../../guest-sdk/assemblyscript/assembly/index";

// AssemblyScript has no sleep: WASI's poll_oneoff on a relative clock
// subscription waits.
@external("wasi_snapshot_preview1", "poll_oneoff")
declare function poll_oneoff(subs: usize, events: usize, n: u32, nevents: usize): u16;

const subscription = new ArrayBuffer(48);
const event = new ArrayBuffer(32);
const nevents = new ArrayBuffer(4);

function pause(ms: u64): void {
  const sub = changetype<usize>(subscription);
  memory.fill(sub, 0, 48);
  store<u8>(sub, 0, 8); // tag: clock
  store<u32>(sub, 1, 16); // clock id: monotonic
  store<u64>(sub, ms * 1000000, 24); // timeout, relative
  poll_oneoff(sub, changetype<usize>(event), 1, changetype<usize>(nevents));
}

export function handle_request(): i64 {
  const res = new Response();
  res.setHeader("Content-Type", "text/event-stream");
  res.setHeader("Cache-Control", "no-cache");
  for (let i = 1; i <= 4; i++) {
    if (i > 1) pause(200);
    res.writeString("data: tick " + i.toString() + "\n\n");
    flush();
  }
  return Next.Done;
}
