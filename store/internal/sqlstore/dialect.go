package sqlstore

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Dialect is what differs between the SQL databases a Store runs on. The
// statements are written once, in PostgreSQL's syntax where the two differ
// in spelling only ($1 placeholders, TRUE, JOIN), and Render adapts them.
type Dialect struct {
	// Name prefixes every error, as in "sqlite: consume code: …".
	Name string
	// Param is "$" for PostgreSQL's numbered placeholders ($1, $2…) or "?"
	// for anonymous ones. SQLite takes numbered ones too (?1), but its
	// driver then allocates each parameter's name on every call, a fifth of
	// a create-and-consume's allocations: so every statement is written to
	// take its arguments once each, in order, which either spelling can say.
	Param string
	// RowLocks reports that the database locks rows with SELECT … FOR
	// UPDATE. Without row locks the lock clauses are left out, and the
	// backend's transactions must take the database's write lock at BEGIN
	// (SQLite's BEGIN IMMEDIATE), which serializes them just as well.
	RowLocks bool
	// Time binds a time the way its column stores it, to the millisecond
	// (the store contract's resolution, at which expiry is judged too): as
	// a time.Time for a timestamp column, or as int64 unix milliseconds.
	// Either scans back (see timeDest).
	Time func(time.Time) any
	// WritingCTEs reports that the database runs INSERT and UPDATE inside
	// WITH, so that a step of several writes can be one statement
	// (onestatement.go); the statements that need it are rendered only
	// then, as "".
	WritingCTEs bool
	// Duplicate reports whether err is a unique violation, which is how a
	// one-statement step learns that a key was taken. Needed only with
	// WritingCTEs.
	Duplicate func(err error) bool
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
		if st.writingCTE && !d.WritingCTEs {
			continue
		}
		if st.sql == "" {
			// A Query added without its statement: fail as the backend
			// starts, in every test, not in one request in production.
			panic(fmt.Sprintf("sqlstore: query %d has no statement", q))
		}
		text, err := d.placeholders(st.sql)
		if err != nil {
			panic(fmt.Sprintf("sqlstore: query %d: %v", q, err))
		}
		if d.RowLocks && st.lock != "" {
			text += " " + st.lock
		}
		texts[q] = text
	}
	return texts
}

// placeholders checks that sql numbers its placeholders $1, $2… in order,
// each once, and spells them as d does. The statements contain no other
// "$".
func (d *Dialect) placeholders(sql string) (string, error) {
	var b strings.Builder
	n := 0
	for {
		i := strings.IndexByte(sql, '$')
		if i < 0 {
			b.WriteString(sql)
			return b.String(), nil
		}
		j := i + 1
		for j < len(sql) && '0' <= sql[j] && sql[j] <= '9' {
			j++
		}
		n++
		if got := sql[i+1 : j]; got != strconv.Itoa(n) {
			return "", fmt.Errorf("placeholder $%s where $%d belongs", got, n)
		}
		b.WriteString(sql[:i])
		if d.Param == "?" {
			b.WriteString("?")
		} else {
			b.WriteString(sql[i:j])
		}
		sql = sql[j:]
	}
}
