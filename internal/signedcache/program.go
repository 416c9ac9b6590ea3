package signedcache

import (
	"debug/elf"
	"encoding/binary"
	"errors"
	"os"
	"sync"
)

// buildID returns the Go build ID of the running program: a hash of
// everything it was built from, so it changes with any change to its
// code or its dependencies' (wazero, the instrumenter, the host). Read
// once, from the executable's .note.go.buildid section.
var buildID = sync.OnceValues(func() (string, error) {
	exe, err := os.Executable()
	if err != nil {
		return "", err
	}
	f, err := elf.Open(exe)
	if err != nil {
		return "", err
	}
	defer f.Close()
	s := f.Section(".note.go.buildid")
	if s == nil {
		return "", errors.New("the program has no Go build ID")
	}
	note, err := s.Data()
	if err != nil {
		return "", err
	}
	return goNote(note, f.ByteOrder)
})

// goNote returns the description of an ELF note owned by "Go".
func goNote(note []byte, order binary.ByteOrder) (string, error) {
	const header = 12 // name size, description size, type
	if len(note) < header+4 {
		return "", errMalformed
	}
	nameSize := order.Uint32(note[0:])
	descSize := uint64(order.Uint32(note[4:]))
	desc := uint64(header + 4)
	if nameSize != 4 || string(note[header:desc]) != "Go\x00\x00" || descSize == 0 || desc+descSize > uint64(len(note)) {
		return "", errMalformed
	}
	return string(note[desc : desc+descSize]), nil
}

var errMalformed = errors.New("the program's Go build ID note is malformed")
