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
// worker and `soar plugin call`, say) are serialised with flock on the file.
package journal

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
)

// Journal is one JSONL file. It is safe for concurrent use.
type Journal struct {
	path string

	mu  sync.Mutex
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
	return &Journal{path: path, seen: map[string]span{}}
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
// that line and done=true without calling fn. The check and the append hold
// an exclusive lock on the file, so two processes racing on one key act
// once. An empty key never matches: fn runs and its record is appended.
//
// fn may perform the side effect itself (deliver the page) and return the
// record of it; a failing fn appends nothing.
func (j *Journal) Once(typ, key string, fn func() (any, error)) (line json.RawMessage, done bool, err error) {
	err = j.locked(func(f *os.File) error {
		if key != "" {
			if sp, ok := j.seen[typ+"\x00"+key]; ok {
				done = true
				var rerr error
				line, rerr = j.read(f, sp)
				return rerr
			}
		}
		rec, err := fn()
		if err != nil {
			return err
		}
		line, err = j.append(f, rec)
		return err
	})
	return line, done, err
}

// Append writes rec as one line and fsyncs it.
func (j *Journal) Append(rec any) (json.RawMessage, error) {
	var line json.RawMessage
	err := j.locked(func(f *os.File) error {
		var err error
		line, err = j.append(f, rec)
		return err
	})
	return line, err
}

// Lookup returns the line of type typ written with key, if any.
func (j *Journal) Lookup(typ, key string) (json.RawMessage, bool, error) {
	var line json.RawMessage
	var ok bool
	err := j.locked(func(f *os.File) error {
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
// other processes appended, and runs fn.
func (j *Journal) locked(fn func(f *os.File) error) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	f, err := j.open()
	if err != nil {
		return err
	}
	defer f.Close()
	if err := lockFile(f); err != nil {
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
