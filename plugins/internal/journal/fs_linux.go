package journal

import (
	"errors"
	"io"
	"os"
	"syscall"
)

// fOFDSetLK is F_OFD_SETLK (Linux 3.15+), the same on every architecture;
// the syscall package does not name it. Open-file-description locks, unlike
// classic fcntl locks, belong to the open file, so they exclude goroutines
// of one process from each other too, and closing another descriptor of
// the journal does not drop them.
const fOFDSetLK = 37

// tryLockByte takes a lock of the byte at off, shared or exclusive,
// released when f is closed, or reports false if another open file holds a
// conflicting one.
func tryLockByte(f *os.File, off int64, shared bool) (bool, error) {
	typ := int16(syscall.F_WRLCK)
	if shared {
		typ = syscall.F_RDLCK
	}
	lk := syscall.Flock_t{Type: typ, Whence: io.SeekStart, Start: off, Len: 1}
	for {
		err := syscall.FcntlFlock(f.Fd(), fOFDSetLK, &lk)
		switch {
		case err == nil:
			return true, nil
		case errors.Is(err, syscall.EAGAIN), errors.Is(err, syscall.EACCES):
			return false, nil
		case err != syscall.EINTR:
			return false, err
		}
	}
}
