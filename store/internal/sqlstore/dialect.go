package sqlstore

import (
	"fmt"
	"strings"
	"time"
)

// Dialect is what differs between the SQL databases a Store runs on. The
// statements are written once, in PostgreSQL's syntax where the two differ
// in spelling only ($1 placeholders, TRUE, JOIN), and Render adapts them.
type Dialect struct {
	// Name prefixes every error, as in "sqlite: consume code: …".
	Name string
	// Param replaces "$" in every statement: "$" keeps PostgreSQL's $1, "?"
	// makes SQLite's ?1. Numbered, not bare "?", so that a statement can use
	// one argument twice (now, in an expiry check of two tables).
	Param string
	// RowLocks reports that the database locks rows with SELECT … FOR
	// UPDATE. Without row locks the lock clauses are left out, and the
	// backend's transactions must take the database's write lock at BEGIN
	// (SQLite's BEGIN IMMEDIATE), which serializes them just as well.
	RowLocks bool
	// Time binds a time the way its column stores it, to the millisecond
	// (the store contract's resolution, at which expiry is judged too).
	Time func(time.Time) any
	// ScanTime turns what the driver scanned from a time column back into a
	// UTC time; NULL (src nil) is the zero time.
	ScanTime func(src any) (time.Time, error)
	// Text binds a string a client sent unchecked (state, nonce), which may
	// be any bytes: PostgreSQL keeps those in bytea, since text refuses NUL
	// and invalid UTF-8; SQLite's TEXT keeps any bytes. They scan back as
	// []byte in both.
	Text func(string) any
}

// Render returns every statement in d's syntax, indexed by [Query]: the text
// a backend's [DB] prepares and runs for each.
func (d *Dialect) Render() []string {
	texts := make([]string, len(statements))
	for q, st := range statements {
		if st.sql == "" {
			// A Query added without its statement: fail at Open, in every
			// test, not in one request in production.
			panic(fmt.Sprintf("sqlstore: query %d has no statement", q))
		}
		text := strings.ReplaceAll(st.sql, "$", d.Param)
		if d.RowLocks && st.lock != "" {
			text += " " + st.lock
		}
		texts[q] = text
	}
	return texts
}
