//go:build !wasip1

package kv

// Outside a wasip1 build there is no host: every call fails, so that code
// using the package still builds and vets on any platform.

const notWasm = "only a wasip1 build reaches the wasmcluster host"

func readResult([]byte) uint32 { return 0 }

func lastErrorCall(b []byte) uint32 { return uint32(copy(b, notWasm)) }

func kvGet(string, string, []byte) int64                 { return codeFailed }
func kvSet(string, string, []byte, int64) int64          { return codeFailed }
func kvDelete(string, string) int64                      { return codeFailed }
func kvExists(string, string) int64                      { return codeFailed }
func kvList(string, string, string, int32, []byte) int64 { return codeFailed }
func kvIncrement(string, string, int64, []byte) int64    { return codeFailed }
func kvCAS(string, string, []byte, []byte, int64) int64  { return codeFailed }
