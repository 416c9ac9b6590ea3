//go:build wasip1

package guest

func init() { hostFlush = flush }

//go:wasmimport wasmcluster flush
func flush() int64
