package sqlstore

import (
	"strings"
	"testing"
)

// The backends' tests run every statement; these check what they cannot
// see: that a statement breaking the placeholder rule is refused for every
// dialect, not only the one that would misread it.
func TestPlaceholders(t *testing.T) {
	for _, tc := range []struct {
		name, sql, dollar, question string
	}{
		{"in order", "a = $1 AND b > $2", "a = $1 AND b > $2", "a = ? AND b > ?"},
		{"ten and more", "($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
			"($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)", "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"},
		{"none", "SELECT 1", "SELECT 1", "SELECT 1"},
		{"reused", "a = $1 AND b > $1", "", ""},
		{"out of order", "a = $2 AND b > $1", "", ""},
		{"a gap", "a = $1 AND b > $3", "", ""},
		{"bare", "a = $", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, d := range []struct{ param, want string }{{"$", tc.dollar}, {"?", tc.question}} {
				got, err := (&Dialect{Param: d.param}).placeholders(tc.sql)
				switch {
				case d.want == "" && err == nil:
					t.Errorf("Param %q: %q gave %q, want an error", d.param, tc.sql, got)
				case d.want != "" && (err != nil || got != d.want):
					t.Errorf("Param %q: %q gave %q, %v, want %q", d.param, tc.sql, got, err, d.want)
				}
			}
		})
	}
}

// Lock clauses go only where the database has row locks.
func TestRenderLocks(t *testing.T) {
	pg := (&Dialect{Param: "$", RowLocks: true}).Render()
	lite := (&Dialect{Param: "?"}).Render()
	if !strings.HasSuffix(pg[rotateCheck], "FOR NO KEY UPDATE OF t, f") || !strings.HasSuffix(pg[lockSession], "FOR UPDATE") {
		t.Errorf("with row locks: rotateCheck %q, lockSession %q, want their lock clauses", pg[rotateCheck], pg[lockSession])
	}
	for q, text := range lite {
		if strings.Contains(text, "FOR ") || strings.Contains(text, "$") {
			t.Errorf("without row locks, query %d = %q: want no lock clause and no $", q, text)
		}
	}
}
