// Package dispatcher runs a server as one primary process and a worker
// process per core, the way Node's cluster module does, for any
// http.Handler.
//
// The primary (NewPrimary, Serve) owns the listening socket. It starts the
// workers by running its own program again, accepts connections, and hands
// each to a worker by passing its file descriptor over a Unix socket
// (SCM_RIGHTS), round-robin or to the worker with the fewest live
// connections. A connection handed to a worker that dies before taking it
// goes to another one. The primary replaces workers that exit (backing off
// when they crash in a loop), drains on request, and reloads by starting a
// new generation of workers and draining the old one once the new one
// serves.
//
// A worker (IsWorker, ServeWorker) serves its handler with a plain
// http.Server on a net.Listener fed by the primary, and exits when the primary
// does.
//
// The package knows nothing of WebAssembly: the root package joins it to
// the host package.
package dispatcher
