// Package journal is an append-only JSON Lines file that remembers what a
// plugin has already done. The page outbox, the audit log and the identity
// plugin's record of intent are journals: every line is one JSON object with
// a "type" and, when the call carried one, the "idempotency_key" it was made
// with. Once answers a repeated key with the line written the first time, so
// a side effect retried after a crash, a restart or a Temporal reset happens
// once.
//
// Every append is fsync'd before it returns, so a line that a caller has
// been told about survives a power cut. Appends from several processes (a
// worker and `soar plugin call`, say) are serialised with flock on the file,
// held only for the append itself: Once runs its side effect outside that
// lock, under a lock of its own key, so a slow vendor delays only the calls
// with the same key.
package journal

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// Journal is one JSONL file. It is safe for concurrent use.
type Journal struct {
	path string

	// keysMu guards keys: the keys a goroutine of this process is acting
	// on, each with a channel closed when it is done.
	keysMu sync.Mutex
	keys   map[string]chan struct{}

	// sem is the journal's mutex (a channel, so that waiting for it can
	// give up at a deadline); it guards off and seen.
	sem chan struct{}
	off int64 // bytes indexed so far
	// seen locates the first line of each type and key, so that memory
	// grows with the number of keys, not with the size of the records.
	seen map[string]span // type + "\x00" + key → line
}

// span is where a line is in the file, without its newline.
type span struct{ off, n int64 }

// New returns the journal at path; the file (and its directory) is created
// on the first append.
func New(path string) *Journal {
	return &Journal{path: path, seen: map[string]span{}, keys: map[string]chan struct{}{}, sem: make(chan struct{}, 1)}
}

// Path is the journal's file.
func (j *Journal) Path() string { return j.path }

// header is the part of a line the journal indexes.
type header struct {
	Type string `json:"type"`
	Key  string `json:"idempotency_key"`
}

// Once appends the record fn returns unless a line of type typ with
// idempotency key key is already in the journal, in which case it returns
// that line and done=true without calling fn. An empty key never matches:
// fn runs and its record is appended.
//
// fn may perform the side effect itself (deliver the page) and return the
// record of it; a failing fn appends nothing. fn runs holding no journal
// lock, only a lock of its key that excludes other calls with the same key,
// in this process and (on Linux) in others; they wait for it and then find
// its record. So calls with different keys never wait for each other's
// vendors. If the process dies after fn's side effect and before the record
// is fsync'd, the next Once with the key finds no record and calls fn
// again: fn must make that repeat harmless, e.g. by handing the vendor a
// de-duplication key derived from key.
//
// Waiting for a lock ends with ctx's error when ctx is done.
func (j *Journal) Once(ctx context.Context, typ, key string, fn func() (any, error)) (line json.RawMessage, done bool, err error) {
	if key == "" {
		rec, err := fn()
		if err != nil {
			return nil, false, err
		}
		line, err = j.Append(ctx, rec)
		return line, false, err
	}
	release, err := j.lockKey(ctx, typ+"\x00"+key)
	if err != nil {
		return nil, false, err
	}
	defer release()
	line, done, err = j.Lookup(ctx, typ, key)
	if err != nil || done {
		return line, done, err
	}
	rec, err := fn()
	if err != nil {
		return nil, false, err
	}
	line, err = j.Append(ctx, rec)
	return line, false, err
}

// lockKey waits until no other Once in this process, nor (where the
// platform allows) in another one, is acting on k, and takes k.
func (j *Journal) lockKey(ctx context.Context, k string) (func(), error) {
	var release func()
	for {
		j.keysMu.Lock()
		busy, ok := j.keys[k]
		if !ok {
			mine := make(chan struct{})
			j.keys[k] = mine
			j.keysMu.Unlock()
			release = func() {
				j.keysMu.Lock()
				delete(j.keys, k)
				j.keysMu.Unlock()
				close(mine)
			}
			break
		}
		j.keysMu.Unlock()
		select {
		case <-busy:
		case <-ctx.Done():
			return nil, fmt.Errorf("wait for another call with the same idempotency key: %w", ctx.Err())
		}
	}
	unlock, err := j.lockRange(ctx, "key\x00"+k, false)
	if err != nil {
		release()
		return nil, err
	}
	return func() { unlock(); release() }, nil
}

// Hold takes the lock called name until release is called: shared with
// other shared holders, or exclusive. It orders actions that Once's
// per-key lock does not, e.g. an update of every page of an alert after
// the pages of it still being sent. Between processes it needs Linux, like
// Once's key lock; elsewhere it orders nothing. Waiting ends with ctx's
// error when ctx is done.
func (j *Journal) Hold(ctx context.Context, name string, shared bool) (release func(), err error) {
	return j.lockRange(ctx, "hold\x00"+name, shared)
}

// lockRange takes the cross-process lock of name's hash: on Linux an
// open-file-description lock of one byte far beyond the end of the journal
// (where nothing is written), polled so that waiting honours ctx. Two names
// sharing a byte only wait for each other. As OFD locks belong to an open
// file, each holder opens its own, and goroutines exclude each other too.
func (j *Journal) lockRange(ctx context.Context, name string, shared bool) (unlock func(), err error) {
	h := fnv.New64a()
	h.Write([]byte(name))
	f, err := j.open()
	if err != nil {
		return nil, err
	}
	off := int64(1<<40) + int64(h.Sum64()>>24) // beyond any journal, within off_t
	if err := poll(ctx, func() (bool, error) { return tryLockByte(f, off, shared) }); err != nil {
		f.Close()
		return nil, fmt.Errorf("wait for another call holding %q in journal %s: %w", name, j.path, err)
	}
	return func() { f.Close() }, nil // closing the file releases the lock
}

// poll calls try until it succeeds, fails or ctx is done, sleeping a little
// longer each time.
func poll(ctx context.Context, try func() (bool, error)) error {
	wait := time.Millisecond
	for {
		ok, err := try()
		if ok || err != nil {
			return err
		}
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		}
		wait = min(2*wait, 20*time.Millisecond)
	}
}

// Append writes rec as one line and fsyncs it.
func (j *Journal) Append(ctx context.Context, rec any) (json.RawMessage, error) {
	var line json.RawMessage
	err := j.locked(ctx, func(f *os.File) error {
		var err error
		line, err = j.append(f, rec)
		return err
	})
	return line, err
}

// Lookup returns the line of type typ written with key, if any.
func (j *Journal) Lookup(ctx context.Context, typ, key string) (json.RawMessage, bool, error) {
	var line json.RawMessage
	var ok bool
	err := j.locked(ctx, func(f *os.File) error {
		var sp span
		if sp, ok = j.seen[typ+"\x00"+key]; !ok || key == "" {
			ok = false
			return nil
		}
		var err error
		line, err = j.read(f, sp)
		return err
	})
	return line, ok, err
}

// Check reports whether the journal could be appended to, without
// creating anything: the file, if it exists, must open for appending, and
// otherwise its nearest existing ancestor must be a writable directory.
func (j *Journal) Check() error {
	if _, err := os.Stat(j.path); err == nil {
		f, err := os.OpenFile(j.path, os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			return fmt.Errorf("journal %s: %w", j.path, err)
		}
		return f.Close()
	}
	dir := filepath.Dir(j.path)
	for {
		info, err := os.Stat(dir)
		switch {
		case err == nil && !info.IsDir():
			return fmt.Errorf("journal %s: %s is not a directory", j.path, dir)
		case err == nil:
			if err := writable(dir); err != nil {
				return fmt.Errorf("journal %s: directory %s is not writable: %w", j.path, dir, err)
			}
			return nil
		case !errors.Is(err, os.ErrNotExist):
			return fmt.Errorf("journal %s: %w", j.path, err)
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return fmt.Errorf("journal %s: no existing directory above it", j.path)
		}
		dir = parent
	}
}

// Scan calls fn with every complete line of type typ, oldest first.
func (j *Journal) Scan(typ string, fn func(line json.RawMessage) error) error {
	f, err := os.Open(j.path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("open journal: %w", err)
	}
	defer f.Close()
	r := bufio.NewReader(f)
	for {
		raw, err := r.ReadBytes('\n')
		if err == io.EOF {
			return nil // a line without its newline was cut short by a crash
		}
		if err != nil {
			return fmt.Errorf("read journal %s: %w", j.path, err)
		}
		var h header
		if json.Unmarshal(raw, &h) != nil || h.Type != typ {
			continue
		}
		if err := fn(bytes.TrimSpace(raw)); err != nil {
			return err
		}
	}
}

// locked opens the journal, takes the file lock, catches up with lines
// other processes appended, and runs fn. Waiting for the lock ends with
// ctx's error when ctx is done.
func (j *Journal) locked(ctx context.Context, fn func(f *os.File) error) error {
	select {
	case j.sem <- struct{}{}:
	case <-ctx.Done():
		return fmt.Errorf("lock journal %s: %w", j.path, ctx.Err())
	}
	defer func() { <-j.sem }()
	f, err := j.open()
	if err != nil {
		return err
	}
	defer f.Close()
	if err := poll(ctx, func() (bool, error) { return tryLockFile(f) }); err != nil {
		return fmt.Errorf("lock journal %s: %w", j.path, err)
	}
	// Closing the file releases the lock.
	if err := j.catchUp(f); err != nil {
		return err
	}
	return fn(f)
}

func (j *Journal) open() (*os.File, error) {
	dir := filepath.Dir(j.path)
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("create journal directory: %w", err)
	}
	_, statErr := os.Stat(j.path)
	f, err := os.OpenFile(j.path, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o640)
	if err != nil {
		return nil, fmt.Errorf("open journal: %w", err)
	}
	if errors.Is(statErr, os.ErrNotExist) {
		// The new file's directory entry must survive a crash too.
		if d, err := os.Open(dir); err == nil {
			_ = d.Sync()
			d.Close()
		}
	}
	return f, nil
}

// catchUp indexes the complete lines after j.off. A trailing partial line
// (a crash mid-write) is left for append to terminate.
func (j *Journal) catchUp(f *os.File) error {
	info, err := f.Stat()
	if err != nil {
		return fmt.Errorf("stat journal: %w", err)
	}
	if info.Size() < j.off { // replaced or truncated: start over
		j.off, j.seen = 0, map[string]span{}
	}
	if info.Size() == j.off {
		return nil
	}
	data := make([]byte, info.Size()-j.off)
	if _, err := f.ReadAt(data, j.off); err != nil && err != io.EOF {
		return fmt.Errorf("read journal %s: %w", j.path, err)
	}
	for {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			return nil
		}
		raw := data[:i]
		data = data[i+1:]
		start := j.off
		j.off += int64(i + 1)
		var h header
		if json.Unmarshal(raw, &h) != nil || h.Key == "" {
			continue
		}
		if _, dup := j.seen[h.Type+"\x00"+h.Key]; !dup {
			j.seen[h.Type+"\x00"+h.Key] = span{off: start, n: int64(i)}
		}
	}
}

// read returns the line at sp.
func (j *Journal) read(f *os.File, sp span) (json.RawMessage, error) {
	line := make([]byte, sp.n)
	if _, err := f.ReadAt(line, sp.off); err != nil {
		return nil, fmt.Errorf("read journal %s: %w", j.path, err)
	}
	return bytes.TrimSpace(line), nil
}

func (j *Journal) append(f *os.File, rec any) (json.RawMessage, error) {
	line, err := json.Marshal(rec)
	if err != nil {
		return nil, fmt.Errorf("encode journal record: %w", err)
	}
	var h header
	if err := json.Unmarshal(line, &h); err != nil || h.Type == "" {
		return nil, fmt.Errorf("journal record %s has no type", line)
	}
	buf := make([]byte, 0, len(line)+2)
	info, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("stat journal: %w", err)
	}
	if info.Size() > j.off {
		buf = append(buf, '\n') // end a line a crash cut short
	}
	lineOff := info.Size() + int64(len(buf))
	buf = append(append(buf, line...), '\n')
	if _, err := f.Write(buf); err != nil {
		return nil, fmt.Errorf("append to journal %s: %w", j.path, err)
	}
	if err := f.Sync(); err != nil {
		return nil, fmt.Errorf("sync journal %s: %w", j.path, err)
	}
	j.off = info.Size() + int64(len(buf))
	if h.Key != "" {
		if _, dup := j.seen[h.Type+"\x00"+h.Key]; !dup {
			j.seen[h.Type+"\x00"+h.Key] = span{off: lineOff, n: int64(len(line))}
		}
	}
	return line, nil
}

// Set hands out one Journal per path, so that every call in a plugin
// process shares the in-process key locks of the file it writes. The zero
// value is ready to use.
type Set struct {
	mu sync.Mutex
	m  map[string]*Journal
}

// Get returns the journal for path.
func (s *Set) Get(path string) *Journal {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = map[string]*Journal{}
	}
	j, ok := s.m[path]
	if !ok {
		j = New(path)
		s.m[path] = j
	}
	return j
}
