package wasmcluster

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// pidFile names, in a primary's private directory, the file that holds
// the primary's pid: a directory whose primary is gone is left over from
// an exit nothing could catch (SIGKILL, a crash), and the next primary
// removes it.
const pidFile = "primary.pid"

// makePrivateDir removes the private directories of primaries that are
// gone, then makes this one's.
func makePrivateDir() (string, error) {
	reclaimPrivateDirs(os.TempDir())
	dir, err := os.MkdirTemp("", "wasmcluster-")
	if err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(dir, pidFile), []byte(strconv.Itoa(os.Getpid())), 0o600); err != nil {
		_ = os.RemoveAll(dir)
		return "", err
	}
	return dir, nil
}

// reclaimPrivateDirs removes the directories under tmp that primaries
// which are gone left behind. Directories without a pid file, or of
// another user, are left alone.
func reclaimPrivateDirs(tmp string) {
	dirs, _ := filepath.Glob(filepath.Join(tmp, "wasmcluster-*"))
	for _, dir := range dirs {
		b, err := os.ReadFile(filepath.Join(dir, pidFile))
		if err != nil {
			continue
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil || pid <= 0 {
			continue
		}
		if errors.Is(syscall.Kill(pid, 0), syscall.ESRCH) {
			_ = os.RemoveAll(dir)
		}
	}
}
