// Package signedcache keeps the results of costly start-up work — a
// module validated and instrumented, a module that passed its check — in
// a cache directory that the processes of a program share, so that only
// the first process pays for the work.
//
// Such a result lets a process skip a safety check, so it must be what an
// earlier process of the same program wrote, for the same input. Each
// entry is named by the program's Go build ID and the caller's id of its
// input, and its content is authenticated by an HMAC under a key of the
// cache's own (a random file, readable by its owner only): a file put at
// an entry's name by anything that does not hold the key — copied from
// another cache, shipped beside a module, written by a different program
// or crafted by hand — is not an entry, and neither is an entry written
// by another build of the program.
package signedcache

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// dirName is the cache's folder in the directory it shares with wazero's
// compiled code.
const dirName = "signed"

// keyName is the key's file in dirName; keySize its length.
const (
	keyName = "key"
	keySize = 32
)

// Cache is the signed part of a cache directory. A nil *Cache holds
// nothing and keeps nothing, so that callers without a cache need no
// case of their own.
type Cache struct {
	dir     string
	key     []byte
	program string // the running program's build ID
}

// Open returns the signed cache in root, making its key on first use. It
// fails when the running program has no build ID or the key can be
// neither read nor made; the caller then does the work every time.
func Open(root string) (*Cache, error) {
	program, err := buildID()
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(root, dirName)
	key, err := loadKey(dir)
	if err != nil {
		return nil, fmt.Errorf("signed cache %s: %w", dir, err)
	}
	return &Cache{dir: dir, key: key, program: program}, nil
}

// loadKey reads dir's key, or makes it. Two processes making it at once
// both end with the one that was linked into place first.
func loadKey(dir string) ([]byte, error) {
	path := filepath.Join(dir, keyName)
	key, err := readKey(path)
	if !errors.Is(err, fs.ErrNotExist) {
		return key, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	tmp, err := os.CreateTemp(dir, ".key-*")
	if err != nil {
		return nil, err
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.Write(randomKey())
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, err
	}
	if err := os.Link(tmp.Name(), path); err != nil && !errors.Is(err, fs.ErrExist) {
		return nil, err
	}
	return readKey(path)
}

func randomKey() []byte {
	key := make([]byte, keySize)
	_, _ = rand.Read(key) // never fails (crypto/rand)
	return key
}

func readKey(path string) ([]byte, error) {
	key, err := os.ReadFile(path)
	if err == nil && len(key) != keySize {
		err = fmt.Errorf("key %s is %d bytes, not %d", path, len(key), keySize)
	}
	return key, err
}

// Get returns the value Put under kind and id by this build of the
// program, or false if there is none, or what is there fails
// authentication.
func (c *Cache) Get(kind string, id []byte) ([]byte, bool) {
	if c == nil {
		return nil, false
	}
	data, err := os.ReadFile(c.path(kind, id))
	if err != nil || len(data) < sha256.Size {
		return nil, false
	}
	mac, value := data[:sha256.Size], data[sha256.Size:]
	if !hmac.Equal(mac, c.mac(kind, id, value)) {
		return nil, false
	}
	return value, true
}

// Put keeps value under kind and id. The entry is written under another
// name and renamed, so that a process sharing the cache never reads one
// half made; Put failing only costs the next process the work.
func (c *Cache) Put(kind string, id, value []byte) error {
	if c == nil {
		return nil
	}
	path := c.path(kind, id)
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, ".entry-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // a no-op once renamed
	_, err = tmp.Write(bytes.Join([][]byte{c.mac(kind, id, value), value}, nil))
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// path is the entry's file: its name hashes the program and the id, so
// that another build's entries are never even read.
func (c *Cache) path(kind string, id []byte) string {
	sum := sha256.Sum256(fields([]byte(c.program), id))
	return filepath.Join(c.dir, kind, hex.EncodeToString(sum[:]))
}

// mac authenticates value as the entry of kind and id of this program.
func (c *Cache) mac(kind string, id, value []byte) []byte {
	m := hmac.New(sha256.New, c.key)
	m.Write(fields([]byte(kind), []byte(c.program), id))
	m.Write(value)
	return m.Sum(nil)
}

// fields joins its parts each after its length, so that no two lists of
// parts give the same bytes.
func fields(parts ...[]byte) []byte {
	var out []byte
	for _, p := range parts {
		out = binary.AppendUvarint(out, uint64(len(p)))
		out = append(out, p...)
	}
	return out
}
