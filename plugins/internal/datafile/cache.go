package datafile

import (
	"fmt"
	"log/slog"
	"os"
	"sync"
)

// Cache keeps the parsed form of data files and re-reads a file when its
// modification time or size changes, so an edited file applies to the next
// call without restarting soar. A changed file that does not parse is
// reported and ignored: the previous version keeps serving, whole.
type Cache[T any] struct {
	parse func([]byte) (T, error)

	mu    sync.Mutex
	files map[string]*cached[T]
}

type cached[T any] struct {
	value T
	stamp stamp
	// bad is the version that failed to parse, so it is not re-read on
	// every call until it changes again.
	bad stamp
}

type stamp struct {
	mod  int64 // UnixNano
	size int64
}

// NewCache returns a cache that turns a file's content into a T with parse.
func NewCache[T any](parse func([]byte) (T, error)) *Cache[T] {
	return &Cache[T]{parse: parse}
}

// Get returns the parsed form of the file at path, reading it if it is new
// or has changed. A file that cannot be read or parsed is an error (its
// message starts with path:line: when parse said where) until a version of
// it has parsed; from then on Get keeps returning that version and logs
// the problem to logger instead.
func (c *Cache[T]) Get(path string, logger *slog.Logger) (T, error) {
	var zero T
	fi, statErr := os.Stat(path)
	c.mu.Lock()
	defer c.mu.Unlock()
	cur := c.files[path]
	if statErr != nil {
		if cur != nil {
			return cur.value, nil
		}
		return zero, statErr
	}
	now := stamp{mod: fi.ModTime().UnixNano(), size: fi.Size()}
	if cur != nil && (cur.stamp == now || cur.bad == now) {
		return cur.value, nil
	}
	data, err := os.ReadFile(path)
	if err == nil {
		var v T
		if v, err = c.parse(data); err == nil {
			if cur != nil {
				logger.Info("data file reloaded", "path", path)
			}
			if c.files == nil {
				c.files = map[string]*cached[T]{}
			}
			c.files[path] = &cached[T]{value: v, stamp: now}
			return v, nil
		}
		err = fmt.Errorf("%s:%w", path, err)
	}
	if cur == nil {
		return zero, err
	}
	logger.Warn("data file changed but is invalid; keeping the previous version", "path", path, "error", err.Error())
	cur.bad = now
	return cur.value, nil
}
