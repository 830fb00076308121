// Package datafile is what the hr and oncall built-ins share for reading
// their hand-written YAML data files: strict decoding whose errors name the
// line, a cache that picks up an edited file on the next call and keeps
// the last good version when an edit does not parse, and weekly windows of
// local time ("mon-fri 09:00-17:00").
package datafile
