package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
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
	// settings are the argon2id parameter sets of the file's hashes, in
	// order, each with a dummy hash of that set: every sign-in checks one
	// hash per set (see validate). Without users, the default set.
	settings []hashSetting
}

// hashSetting is one argon2id parameter set ("m=65536,t=3,p=2") and a hash
// with it that no password matches (password.DummyHash).
type hashSetting struct {
	params string
	dummy  string
}

// hashParams is the parameter part of a checked argon2id PHC string.
func hashParams(encoded string) string {
	parts := strings.Split(encoded, "$")
	if len(parts) < 4 {
		return ""
	}
	return parts[3]
}

// checkPassword is password.Check; tests watch what it is asked.
var checkPassword = password.Check

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

// findSettings lists the parameter sets of the users' hashes, sorted, with
// a dummy hash for each; a file without users gets the default set.
func (db *userDB) findSettings() error {
	seen := map[string]string{} // params → one hash that has them
	for _, u := range db.byName {
		seen[hashParams(u.PasswordHash)] = u.PasswordHash
	}
	if len(seen) == 0 {
		def, _ := password.DummyHash("")
		seen[hashParams(def)] = def
	}
	db.settings = db.settings[:0]
	for _, params := range slices.Sorted(maps.Keys(seen)) {
		dummy, err := password.DummyHash(seen[params])
		if err != nil { // the hash was checked already
			return err
		}
		db.settings = append(db.settings, hashSetting{params: params, dummy: dummy})
	}
	return nil
}

// otherSettings reports how many users have hashes whose parameters are
// not those keystile hash-password makes, and how many parameter sets the
// file holds: a sign-in costs one check per set.
func (db *userDB) otherSettings() (users, sets int) {
	def, _ := password.DummyHash("")
	for _, u := range db.byName {
		if hashParams(u.PasswordHash) != hashParams(def) {
			users++
		}
	}
	return users, len(db.settings)
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
	db := &userDB{byName: map[string]userEntry{}, bySubject: map[string]string{}}
	_ = db.findSettings() // no users: the default set, which cannot fail
	return db
}

// add adds a checked user whose Subject is set. A hash with parameters
// the file did not hold yet changes the sets every sign-in checks.
func (db *userDB) add(u userEntry) {
	db.byName[u.Username] = u
	db.bySubject[u.Subject] = u.Username
	params := hashParams(u.PasswordHash)
	known := slices.ContainsFunc(db.settings, func(h hashSetting) bool { return h.params == params })
	if !known || len(db.byName) == 1 { // the first user replaces the default set
		_ = db.findSettings() // the hash was checked: it cannot fail
	}
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
// usernames exist (docs/security.md §5). The same work means one check for
// each parameter set in the file, in the same order, whoever signs in: the
// user's own hash for the set it has, a dummy of every other set. A file
// whose hashes all come from keystile hash-password has one set, so a
// sign-in costs one check; hashes migrated with other parameters add one
// check per set until they are made again (serve warns about them).
func (db *userDB) validate(ctx context.Context, username, pw string) (keystile.Identity, error) {
	u, ok := db.byName[username]
	own := ""
	if ok {
		own = hashParams(u.PasswordHash)
	}
	match := false
	for _, set := range db.settings {
		hash := set.dummy
		if set.params == own {
			hash = u.PasswordHash
		}
		m, err := checkPassword(ctx, hash, pw)
		if err != nil {
			// The hashes were checked at load, so this is a cancelled request.
			return keystile.Identity{}, fmt.Errorf("checking a password: %w", err)
		}
		match = match || (m && set.params == own)
	}
	if !ok || !match || u.Disabled {
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
