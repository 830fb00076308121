package geoip

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/oschwald/geoip2-golang/v2"
)

// db is one MaxMind database file that is re-read when the file changes, so
// the weekly update (usually an atomic rename by geoipupdate) is picked up
// without restarting soar. The file is read into memory rather than mapped:
// a copy written in place over a mapped file would crash the process.
type db struct {
	path string

	cur atomic.Pointer[loaded]
	mu  sync.Mutex // serialises reloads
}

type loaded struct {
	reader *geoip2.Reader
	kind   string // metadata database_type, e.g. "GeoIP2-City"
	stamp  fileStamp
}

type fileStamp struct {
	mod  time.Time
	size int64
	ino  uint64
}

func stampOf(fi os.FileInfo) fileStamp {
	return fileStamp{mod: fi.ModTime(), size: fi.Size(), ino: inode(fi)}
}

// get returns the current reader, reloading it first if the file changed.
// If a changed file cannot be read (for example it is being written), the
// previous version keeps serving and the next call tries again.
func (d *db) get(logger *slog.Logger) (*loaded, error) {
	fi, err := os.Stat(d.path)
	cur := d.cur.Load()
	if err != nil {
		if cur != nil {
			return cur, nil
		}
		return nil, fmt.Errorf("open geoip database: %w", err)
	}
	if cur != nil && cur.stamp == stampOf(fi) {
		return cur, nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if c := d.cur.Load(); c != nil && c.stamp == stampOf(fi) {
		return c, nil // another call reloaded it meanwhile
	}
	next, err := load(d.path)
	if err != nil {
		if cur != nil {
			logger.Warn("geoip database changed but cannot be loaded; keeping the previous version", "path", d.path, "error", err)
			return cur, nil
		}
		return nil, err
	}
	if cur != nil {
		logger.Info("geoip database reloaded", "path", d.path, "type", next.kind)
	}
	d.cur.Store(next)
	return next, nil
}

func load(path string) (*loaded, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open geoip database: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("stat geoip database: %w", err)
	}
	data := make([]byte, fi.Size())
	if _, err := io.ReadFull(f, data); err != nil {
		return nil, fmt.Errorf("read geoip database %s: %w", path, err)
	}
	r, err := geoip2.OpenBytes(data)
	if err != nil {
		return nil, fmt.Errorf("load geoip database %s: %w", path, err)
	}
	return &loaded{reader: r, kind: r.Metadata().DatabaseType, stamp: stampOf(fi)}, nil
}

// dbSet caches one db per path, so every call with the same config shares
// readers while a config change simply names other files.
type dbSet struct {
	mu  sync.Mutex
	dbs map[string]*db
}

func (s *dbSet) open(path string) *db {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.dbs == nil {
		s.dbs = map[string]*db{}
	}
	d, ok := s.dbs[path]
	if !ok {
		d = &db{path: path}
		s.dbs[path] = d
	}
	return d
}
