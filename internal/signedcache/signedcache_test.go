package signedcache

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestAnEntryIsReadBackByAnotherOpenOfTheCache(t *testing.T) {
	root := t.TempDir()
	c, err := Open(root)
	require.NoError(t, err)
	_, ok := c.Get("kind", []byte("id"))
	assert.False(t, ok, "nothing put yet")
	require.NoError(t, c.Put("kind", []byte("id"), []byte("value")))

	again, err := Open(root)
	require.NoError(t, err)
	v, ok := again.Get("kind", []byte("id"))
	require.True(t, ok)
	assert.Equal(t, []byte("value"), v)
	_, ok = again.Get("kind", []byte("other id"))
	assert.False(t, ok)
	_, ok = again.Get("other kind", []byte("id"))
	assert.False(t, ok)

	fi, err := os.Stat(filepath.Join(root, dirName, keyName))
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm(), "the key is its owner's only")
}

func TestAFileAtAnEntrysNameIsNoEntryUnlessSignedWithTheCachesKey(t *testing.T) {
	root := t.TempDir()
	c, err := Open(root)
	require.NoError(t, err)
	id := []byte("module")
	path := c.path("checked", id)
	require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o700))

	for name, content := range map[string][]byte{
		"empty":   nil,
		"no mac":  []byte("yes"),
		"zeroes":  make([]byte, 40),
		"the mac": c.mac("checked", id, nil)[:31],
	} {
		require.NoError(t, os.WriteFile(path, content, 0o600))
		_, ok := c.Get("checked", id)
		assert.False(t, ok, name)
	}

	// An entry signed in another cache, copied here.
	other, err := Open(t.TempDir())
	require.NoError(t, err)
	require.NoError(t, other.Put("checked", id, nil))
	copied, err := os.ReadFile(other.path("checked", id))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(path, copied, 0o600))
	_, ok := c.Get("checked", id)
	assert.False(t, ok, "signed with another cache's key")

	// A real entry with its value changed.
	require.NoError(t, c.Put("checked", id, []byte("value")))
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	data[len(data)-1] ^= 1
	require.NoError(t, os.WriteFile(path, data, 0o600))
	_, ok = c.Get("checked", id)
	assert.False(t, ok, "a changed value")
}

func TestEntriesOfAnotherBuildAreNotRead(t *testing.T) {
	root := t.TempDir()
	c, err := Open(root)
	require.NoError(t, err)
	require.NoError(t, c.Put("kind", []byte("id"), []byte("value")))
	rebuilt := *c
	rebuilt.program += "x"
	_, ok := rebuilt.Get("kind", []byte("id"))
	assert.False(t, ok)

	// Not even at the old build's file name.
	require.NoError(t, os.Rename(c.path("kind", []byte("id")), rebuilt.path("kind", []byte("id"))))
	_, ok = rebuilt.Get("kind", []byte("id"))
	assert.False(t, ok)
}

func TestProcessesOpeningAnEmptyCacheAtOnceShareOneKey(t *testing.T) {
	root := t.TempDir()
	caches := make([]*Cache, 8)
	var wg sync.WaitGroup
	for i := range caches {
		wg.Go(func() {
			c, err := Open(root)
			assert.NoError(t, err)
			caches[i] = c
		})
	}
	wg.Wait()
	for _, c := range caches {
		require.NotNil(t, c)
		assert.Equal(t, caches[0].key, c.key)
	}
	leftovers, err := filepath.Glob(filepath.Join(root, dirName, ".key-*"))
	require.NoError(t, err)
	assert.Empty(t, leftovers)
}

func TestABadKeyFailsOpen(t *testing.T) {
	root := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(root, dirName), 0o700))
	require.NoError(t, os.WriteFile(filepath.Join(root, dirName, keyName), []byte("short"), 0o600))
	_, err := Open(root)
	assert.ErrorContains(t, err, "is 5 bytes, not 32")
}

func TestANilCacheKeepsNothing(t *testing.T) {
	var c *Cache
	assert.NoError(t, c.Put("kind", []byte("id"), []byte("value")))
	_, ok := c.Get("kind", []byte("id"))
	assert.False(t, ok)
}

func TestTheBuildIDIsReadFromTheExecutable(t *testing.T) {
	id, err := buildID()
	require.NoError(t, err)
	assert.Regexp(t, `^[\w-]+(/[\w-]+)+$`, id, "action/content hashes, as go tool buildid prints")

	note := func(name string, desc string) []byte {
		var b bytes.Buffer
		_ = binary.Write(&b, binary.LittleEndian, []uint32{uint32(len(name)), uint32(len(desc)), 4})
		b.WriteString(name)
		b.WriteString(desc)
		return b.Bytes()
	}
	got, err := goNote(note("Go\x00\x00", "abc/def"), binary.LittleEndian)
	require.NoError(t, err)
	assert.Equal(t, "abc/def", got)
	for _, bad := range [][]byte{nil, note("Go\x00\x00", "")[:12], note("GNU\x00", "abc"), note("Go\x00\x00", ""), note("Go\x00\x00", "abc")[:18]} {
		_, err := goNote(bad, binary.LittleEndian)
		assert.ErrorIs(t, err, errMalformed, "%q", bad)
	}
}
