//go:build !unix

package host

import "context"

// memoryContext is plain where there is no mmap: linear memory is then a
// Go slice, as wazero makes it.
var memoryContext = context.Background()
