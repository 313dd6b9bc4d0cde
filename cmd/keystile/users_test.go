package main

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/keystile/keystile"
)

func TestUsersFileValidateUser(t *testing.T) {
	dir := t.TempDir()
	path := writeFile(t, dir, "users.yaml", `users:
  - username: alice
    password_hash: "`+testHash(t, "alice-pw")+`"
    claims:
      role: admin
      email: alice@example.com
      groups: [ops, dev]
      profile: {team: core}
  - username: bob
    subject: 7d3f0c8e
    password_hash: "`+testHash(t, "bob-pw")+`"
  - username: carol
    password_hash: "`+testHash(t, "carol-pw")+`"
    disabled: true
`)
	db, err := loadUsers(path)
	if err != nil {
		t.Fatalf("loadUsers: %v", err)
	}

	for _, tc := range []struct {
		name, username, password string
		want                     keystile.Identity
		wantErr                  error
	}{
		{
			name: "right password gives the subject and the claims", username: "alice", password: "alice-pw",
			want: keystile.Identity{Subject: "alice", Claims: map[string]any{
				"role": "admin", "email": "alice@example.com",
				"groups": []any{"ops", "dev"}, "profile": map[string]any{"team": "core"},
			}},
		},
		{
			name: "explicit subject", username: "bob", password: "bob-pw",
			want: keystile.Identity{Subject: "7d3f0c8e"},
		},
		{name: "wrong password", username: "alice", password: "bob-pw", wantErr: keystile.ErrInvalidCredentials},
		{name: "password differs in case", username: "alice", password: "ALICE-PW", wantErr: keystile.ErrInvalidCredentials},
		{name: "unknown user", username: "mallory", password: "alice-pw", wantErr: keystile.ErrInvalidCredentials},
		{name: "username differs in case", username: "Alice", password: "alice-pw", wantErr: keystile.ErrInvalidCredentials},
		{name: "empty username", username: "", password: "", wantErr: keystile.ErrInvalidCredentials},
		{name: "disabled user with the right password", username: "carol", password: "carol-pw", wantErr: keystile.ErrInvalidCredentials},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := db.validate(context.Background(), tc.username, tc.password)
			if tc.wantErr != nil {
				if err != tc.wantErr { // the very same error, so the login page cannot tell them apart
					t.Fatalf("validate = %+v, %v; want %v", got, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("validate: %v", err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("validate = %#v\nwant %#v", got, tc.want)
			}
		})
	}

	t.Run("claims handed out are copies", func(t *testing.T) {
		first, err := db.validate(context.Background(), "alice", "alice-pw")
		if err != nil {
			t.Fatal(err)
		}
		first.Claims["role"] = "root"
		first.Claims["profile"].(map[string]any)["team"] = "changed"
		again, err := db.validate(context.Background(), "alice", "alice-pw")
		if err != nil {
			t.Fatal(err)
		}
		if again.Claims["role"] != "admin" || again.Claims["profile"].(map[string]any)["team"] != "core" {
			t.Errorf("claims after a caller changed its copy = %v", again.Claims)
		}
	})

	t.Run("a cancelled request is a server error, not a wrong password", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := db.validate(ctx, "alice", "alice-pw")
		if !errors.Is(err, context.Canceled) || errors.Is(err, keystile.ErrInvalidCredentials) {
			t.Errorf("validate with a cancelled context = %v, want context.Canceled", err)
		}
	})
}

func TestUsersFileLookupUser(t *testing.T) {
	path := writeFile(t, t.TempDir(), "users.yaml", `users:
  - username: alice
    password_hash: "`+testHash(t, "pw")+`"
    claims: {role: admin}
  - username: bob
    subject: 7d3f0c8e
    password_hash: "`+testHash(t, "pw")+`"
  - username: carol
    password_hash: "`+testHash(t, "pw")+`"
    disabled: true
`)
	db, err := loadUsers(path)
	if err != nil {
		t.Fatalf("loadUsers: %v", err)
	}
	for _, tc := range []struct {
		name, subject string
		want          keystile.Identity
		wantErr       error
	}{
		{name: "subject defaults to the username", subject: "alice", want: keystile.Identity{Subject: "alice", Claims: map[string]any{"role": "admin"}}},
		{name: "explicit subject", subject: "7d3f0c8e", want: keystile.Identity{Subject: "7d3f0c8e"}},
		{name: "a username is not a subject when a subject is set", subject: "bob", wantErr: keystile.ErrUnknownUser},
		{name: "disabled user", subject: "carol", wantErr: keystile.ErrUnknownUser},
		{name: "user who is gone", subject: "dave", wantErr: keystile.ErrUnknownUser},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := db.lookup(context.Background(), tc.subject)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("lookup(%q) error = %v, want %v", tc.subject, err, tc.wantErr)
			}
			if tc.wantErr == nil && !reflect.DeepEqual(got, tc.want) {
				t.Errorf("lookup(%q) = %#v, want %#v", tc.subject, got, tc.want)
			}
		})
	}
}

func TestUsersFileProblems(t *testing.T) {
	good := testHash(t, "pw")
	for _, tc := range []struct {
		name, content string
		want          []string
		notInErr      string
	}{
		{"missing password hash", "users:\n  - username: alice\n", []string{`users[0] ("alice"): password_hash is empty`}, ""},
		{"plain-text password instead of a hash", "users:\n  - username: alice\n    password_hash: hunter2\n", []string{`users[0] ("alice"): password_hash:`, "keystile hash-password"}, "hunter2"},
		{"a password key is an unknown key", "users:\n  - username: alice\n    password: hunter2\n", []string{`unknown key "password"`}, "hunter2"},
		{"bcrypt hash", "users:\n  - username: alice\n    password_hash: \"$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy\"\n", []string{"password_hash:", "not argon2id"}, ""},
		{"hash with hostile memory cost", "users:\n  - username: alice\n    password_hash: \"$argon2id$v=19$m=4194304,t=1,p=1$dGVzdC1zYWx0LTE2Ynl0ZQ$AAAAAAAAAAAAAAAAAAAAAA\"\n", []string{"password_hash:", "above the limit"}, ""},
		{"empty username", "users:\n  - password_hash: \"" + good + "\"\n", []string{"users[0]: username is empty"}, ""},
		{"duplicate username", "users:\n  - username: alice\n    password_hash: \"" + good + "\"\n  - username: alice\n    password_hash: \"" + good + "\"\n", []string{`users[1] ("alice"): the username appears more than once`}, ""},
		{"two users with one subject", "users:\n  - username: alice\n    password_hash: \"" + good + "\"\n  - username: bob\n    subject: alice\n    password_hash: \"" + good + "\"\n", []string{`users[1] ("bob"): subject "alice" is also the subject of "alice"`}, ""},
		{"claim that the server sets", "users:\n  - username: alice\n    password_hash: \"" + good + "\"\n    claims: {sub: admin}\n", []string{`claims: "sub" is set by the server`}, ""},
		{"control character in username", "users:\n  - username: \"al\\nice\"\n    password_hash: \"" + good + "\"\n", []string{"username must be at most 256 bytes without control characters"}, ""},
		{"claims that JSON cannot hold", "users:\n  - username: alice\n    password_hash: \"" + good + "\"\n    claims: {nested: {1: one}}\n", []string{"claims cannot be put into a token"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := writeFile(t, t.TempDir(), "users.yaml", tc.content)
			_, err := loadUsers(path)
			if err == nil {
				t.Fatal("loadUsers succeeded")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q\ndoes not contain %q", err, w)
				}
			}
			if tc.notInErr != "" && strings.Contains(err.Error(), tc.notInErr) {
				t.Errorf("error %q shows %q", err, tc.notInErr)
			}
		})
	}
}

// TestReloadToNoUsersTakesAnExplicitList: an empty or half-written users
// file never signs everybody out on SIGHUP; `users: []` does, on purpose.
func TestReloadToNoUsersTakesAnExplicitList(t *testing.T) {
	dir := t.TempDir()
	path := writeFile(t, dir, "users.yaml", "users:\n  - username: alice\n    password_hash: \""+testHash(t, "pw")+"\"\n")
	db, err := loadUsers(path)
	if err != nil {
		t.Fatal(err)
	}
	live := newLiveUsers(db)
	for _, content := range []string{"", "users:\n", "# nothing yet\n"} {
		writeFile(t, dir, "users.yaml", content)
		if _, err := live.reload(path, nil); err == nil || !strings.Contains(err.Error(), "has no users") {
			t.Fatalf("reload of %q: err %v, want a refusal", content, err)
		}
		if _, err := live.lookup(t.Context(), "alice"); err != nil {
			t.Fatalf("alice is gone after a refused reload of %q: %v", content, err)
		}
	}
	writeFile(t, dir, "users.yaml", "users: []\n")
	sum, err := live.reload(path, nil)
	if err != nil || sum.Users != 0 || sum.Removed != 1 {
		t.Fatalf("explicit users: [] → %+v, %v; want every user removed", sum, err)
	}
}
