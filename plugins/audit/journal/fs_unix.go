//go:build unix

package journal

import (
	"os"
	"syscall"
)

// lockFile takes an exclusive advisory lock, released when f is closed.
func lockFile(f *os.File) error {
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX)
		if err != syscall.EINTR {
			return err
		}
	}
}

// writable reports whether this process may create files in dir.
func writable(dir string) error {
	return syscall.Access(dir, 2 /* W_OK */)
}
