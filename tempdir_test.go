package wasmcluster

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestPrivateDirsOfGonePrimariesAreReclaimed(t *testing.T) {
	tmp := t.TempDir()
	// A process that has exited, and one that lives: this one.
	gone := exec.Command("true")
	require.NoError(t, gone.Run())
	mk := func(name string, pid int) string {
		dir := filepath.Join(tmp, name)
		require.NoError(t, os.MkdirAll(filepath.Join(dir, "cache"), 0o700))
		if pid > 0 {
			require.NoError(t, os.WriteFile(filepath.Join(dir, pidFile), []byte(strconv.Itoa(pid)), 0o600))
		}
		return dir
	}
	left := mk("wasmcluster-1", gone.Process.Pid)
	live := mk("wasmcluster-2", os.Getpid())
	unmarked := mk("wasmcluster-3", 0)
	other := mk("other-4", gone.Process.Pid)

	reclaimPrivateDirs(tmp)
	assert.NoDirExists(t, left, "its primary is gone")
	assert.DirExists(t, live, "its primary runs")
	assert.DirExists(t, unmarked, "no pid file: not ours to judge")
	assert.DirExists(t, other, "not a wasmcluster directory")
}
