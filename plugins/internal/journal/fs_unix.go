//go:build unix

package journal

import (
	"errors"
	"os"
	"syscall"
)

// tryLockFile takes an exclusive advisory lock, released when f is closed,
// or reports false if another file description holds it.
func tryLockFile(f *os.File) (bool, error) {
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		switch {
		case err == nil:
			return true, nil
		case errors.Is(err, syscall.EWOULDBLOCK):
			return false, nil
		case err != syscall.EINTR:
			return false, err
		}
	}
}

// writable reports whether this process may create files in dir.
func writable(dir string) error {
	return syscall.Access(dir, 2 /* W_OK */)
}
