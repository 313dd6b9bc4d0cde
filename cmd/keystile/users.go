package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/keystile/keystile"
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
// ValidateUserFunc needs no lock.
type userDB struct {
	byName    map[string]userEntry
	bySubject map[string]string // subject → username
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
		return nil, fmt.Errorf("%s: %w", path, yamlError(err))
	}
	db := newUserDB()
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
	if err := keystile.ValidatePasswordHash(u.PasswordHash); err != nil {
		return fmt.Errorf("password_hash: %w (make one with: keystile hash-password)", err)
	}
	// A claim the server sets itself is refused at load rather than
	// silently dropped from every token (SECURITY.md §9).
	for c := range u.Claims {
		if keystile.IsRegisteredClaim(c) {
			return fmt.Errorf("claims: %q is set by the server and cannot be a custom claim (the subject: field sets sub)", c)
		}
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
// usernames exist (SECURITY.md §5).
func (db *userDB) validate(ctx context.Context, username, password string) (keystile.Identity, error) {
	u, ok := db.byName[username]
	if !ok {
		keystile.DummyPasswordCheckContext(ctx, password)
		return keystile.Identity{}, keystile.ErrInvalidCredentials
	}
	match, err := keystile.CheckPasswordContext(ctx, u.PasswordHash, password)
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
