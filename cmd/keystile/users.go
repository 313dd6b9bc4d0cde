package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync/atomic"

	"gopkg.in/yaml.v3"

	"github.com/keystile/keystile"
	"github.com/keystile/keystile/password"
)

// usersFile is the users file:
//
//	users:
//	  - username: alice
//	    password_hash: "$argon2id$v=19$…"   # from keystile hash-password
//	    claims: {role: admin}
//	    subject: "8f14e45f"                 # optional; default the username
//	    disabled: false                     # optional
type usersFile struct {
	Users []userEntry `yaml:"users"`
}

type userEntry struct {
	Username     string         `yaml:"username"`
	Subject      string         `yaml:"subject"`
	PasswordHash string         `yaml:"password_hash"`
	Claims       map[string]any `yaml:"claims"`
	Disabled     bool           `yaml:"disabled"`
}

// userDB is the loaded users file. It is read-only after loading, so the
// ValidateUserFunc needs no lock; a reload builds a new one (liveUsers).
type userDB struct {
	byName    map[string]userEntry
	bySubject map[string]string // subject → username
	// declaredEmpty is set for a file that says `users: []`: no users on
	// purpose, as opposed to an empty or half-written file.
	declaredEmpty bool
}

// loadUsers reads and checks a users file. Every problem is reported, one
// line each, with the entry it is about.
func loadUsers(path string) (*userDB, error) {
	raw, err := readBounded(path)
	if err != nil {
		return nil, err
	}
	var f usersFile
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%s: %w", path, yamlError(raw, err))
	}
	db := newUserDB()
	db.declaredEmpty = f.Users != nil && len(f.Users) == 0
	var problems []string
	for i, u := range f.Users {
		where := fmt.Sprintf("users[%d]", i)
		if u.Username != "" {
			where += fmt.Sprintf(" (%q)", truncate(u.Username, 64))
		}
		if err := checkUser(u); err != nil {
			problems = append(problems, where+": "+err.Error())
			continue
		}
		if _, dup := db.byName[u.Username]; dup {
			problems = append(problems, where+": the username appears more than once")
			continue
		}
		if u.Subject == "" {
			u.Subject = u.Username
		}
		if other, dup := db.bySubject[u.Subject]; dup {
			problems = append(problems, fmt.Sprintf("%s: subject %q is also the subject of %q", where, u.Subject, other))
			continue
		}
		db.add(u)
	}
	if len(problems) > 0 {
		return nil, &problemList{file: path, problems: problems}
	}
	return db, nil
}

// problemList is several problems in one file; the configuration check
// reports each on its own line.
type problemList struct {
	file     string
	problems []string
}

func (e *problemList) Error() string {
	return e.file + ": " + strings.Join(e.problems, "; ")
}

func newUserDB() *userDB {
	return &userDB{byName: map[string]userEntry{}, bySubject: map[string]string{}}
}

// add adds a checked user whose Subject is set.
func (db *userDB) add(u userEntry) {
	db.byName[u.Username] = u
	db.bySubject[u.Subject] = u.Username
}

func checkUser(u userEntry) error {
	if u.Username == "" {
		return errors.New("username is empty")
	}
	if len(u.Username) > 256 || strings.ContainsFunc(u.Username, isControl) {
		return errors.New("username must be at most 256 bytes without control characters")
	}
	if strings.ContainsFunc(u.Subject, isControl) {
		return errors.New("subject has control characters")
	}
	if u.PasswordHash == "" {
		return errors.New("password_hash is empty (make one with: keystile hash-password)")
	}
	if err := password.ValidateHash(u.PasswordHash); err != nil {
		return fmt.Errorf("password_hash: %w (make one with: keystile hash-password)", err)
	}
	// A claim the server sets itself is refused at load rather than
	// silently dropped from every token (docs/security.md §9).
	if c := registeredClaimIn(u.Claims); c != "" {
		return fmt.Errorf("claims: %q is set by the server and cannot be a custom claim (the subject: field sets sub)", c)
	}
	if _, err := json.Marshal(u.Claims); err != nil {
		return fmt.Errorf("claims cannot be put into a token: %w", err)
	}
	return nil
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }

// Len reports how many users are loaded.
func (db *userDB) Len() int { return len(db.byName) }

// validate is the keystile.ValidateUserFunc of a users file. An unknown user,
// a wrong password and a disabled user all get ErrInvalidCredentials after
// the same argon2id work, so the answer and its timing do not tell which
// usernames exist (docs/security.md §5).
func (db *userDB) validate(ctx context.Context, username, pw string) (keystile.Identity, error) {
	u, ok := db.byName[username]
	if !ok {
		password.CheckUnknownUser(ctx, pw)
		return keystile.Identity{}, keystile.ErrInvalidCredentials
	}
	match, err := password.Check(ctx, u.PasswordHash, pw)
	if err != nil {
		// The hash was checked at load, so this is a cancelled request.
		return keystile.Identity{}, fmt.Errorf("checking a password: %w", err)
	}
	if !match || u.Disabled {
		return keystile.Identity{}, keystile.ErrInvalidCredentials
	}
	return keystile.Identity{Subject: u.Subject, Claims: cloneClaims(u.Claims)}, nil
}

// lookup is the keystile.LookupUserFunc of a users file: on refresh and
// single sign-on, a user who is gone or disabled gets ErrUnknownUser, and the
// others get the claims the file holds now.
func (db *userDB) lookup(_ context.Context, subject string) (keystile.Identity, error) {
	name, ok := db.bySubject[subject]
	if !ok {
		return keystile.Identity{}, keystile.ErrUnknownUser
	}
	u := db.byName[name]
	if u.Disabled {
		return keystile.Identity{}, keystile.ErrUnknownUser
	}
	return keystile.Identity{Subject: u.Subject, Claims: cloneClaims(u.Claims)}, nil
}

// disabled reports how many users are disabled.
func (db *userDB) disabled() int {
	n := 0
	for _, u := range db.byName {
		if u.Disabled {
			n++
		}
	}
	return n
}

// liveUsers is the users file a running server checks: SIGHUP loads the file
// again and, only if all of it is valid, swaps it in whole, so that a
// sign-in or refresh sees either the old users or the new ones, never a mix,
// and a broken edit leaves the server as it was.
type liveUsers struct {
	db atomic.Pointer[userDB]
}

func newLiveUsers(db *userDB) *liveUsers {
	l := &liveUsers{}
	l.db.Store(db)
	return l
}

// validate is [userDB.validate] on the current users.
func (l *liveUsers) validate(ctx context.Context, username, password string) (keystile.Identity, error) {
	return l.db.Load().validate(ctx, username, password)
}

// lookup is [userDB.lookup] on the current users: a user disabled or removed
// by a reload gets nothing more on refresh or single sign-on.
func (l *liveUsers) lookup(ctx context.Context, subject string) (keystile.Identity, error) {
	return l.db.Load().lookup(ctx, subject)
}

// reloadSummary is what a reload changed, in counts: a log line about the
// users file names no hash and no claim.
type reloadSummary struct {
	Users, Disabled, Added, Removed int
}

// reload loads the users file at path and, if it is valid and none of its
// subjects is one of clients' ids, makes it the current one. On any error
// the current users stay.
func (l *liveUsers) reload(path string, clients []keystile.Client) (reloadSummary, error) {
	db, err := loadUsers(path)
	if err != nil {
		return reloadSummary{}, err
	}
	if err := db.checkClientIDs(clients); err != nil {
		return reloadSummary{}, fmt.Errorf("%s: %w", path, err)
	}
	// An empty or half-written file (an editor saving, a shell's >) must not
	// sign everybody out: going to no users takes an explicit `users: []`.
	if db.Len() == 0 && !db.declaredEmpty && l.db.Load().Len() > 0 {
		return reloadSummary{}, fmt.Errorf("%s has no users; write `users: []` to remove every user on purpose", path)
	}
	old := l.db.Swap(db)
	sum := reloadSummary{Users: db.Len(), Disabled: db.disabled()}
	for name := range db.byName {
		if _, ok := old.byName[name]; !ok {
			sum.Added++
		}
	}
	for name := range old.byName {
		if _, ok := db.byName[name]; !ok {
			sum.Removed++
		}
	}
	return sum, nil
}

// checkClientIDs refuses a user whose subject is a client id: a
// client-credentials token's sub is the client id (RFC 9068 §5), so an API
// authorising by sub could not tell the two apart.
func (db *userDB) checkClientIDs(clients []keystile.Client) error {
	for _, cl := range clients {
		if user, ok := db.bySubject[cl.ID]; ok {
			return fmt.Errorf("client id %q is also the subject of user %q: tokens of the one would pass for the other's", cl.ID, user)
		}
	}
	return nil
}

// cloneClaims deep-copies claims decoded from YAML, so that nothing the
// server does with an Identity can change the loaded users file.
func cloneClaims(m map[string]any) map[string]any {
	if m == nil {
		return nil
	}
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = cloneValue(v)
	}
	return out
}

func cloneValue(v any) any {
	switch v := v.(type) {
	case map[string]any:
		return cloneClaims(v)
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = cloneValue(e)
		}
		return out
	default:
		return v
	}
}
