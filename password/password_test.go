package password

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"golang.org/x/crypto/argon2"
)

// cheapHash returns an argon2id PHC string with tiny parameters, made directly
// with x/crypto rather than through Hash, so the tests stay fast and
// check that hashes made elsewhere are accepted.
func cheapHash(t testing.TB, password string, m, tm uint32, p uint8) string {
	t.Helper()
	salt := []byte("0123456789abcdef")
	key := argon2.IDKey([]byte(password), salt, tm, m, p, 32)
	return fmt.Sprintf("$argon2id$v=19$m=%d,t=%d,p=%d$%s$%s", m, tm, p,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key))
}

var phcPattern = regexp.MustCompile(`^\$argon2id\$v=19\$m=65536,t=3,p=2\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$`)

func TestHashThenCheck(t *testing.T) {
	const password = "correct horse battery staple"
	first, err := Hash(password)
	if err != nil {
		t.Fatalf("Hash: %v", err)
	}
	if !phcPattern.MatchString(first) {
		t.Fatalf("Hash = %q, want the PHC form $argon2id$v=19$m=65536,t=3,p=2$salt$hash", first)
	}
	if strings.Contains(first, password) {
		t.Fatal("the hash contains the password")
	}
	second, err := Hash(password)
	if err != nil {
		t.Fatalf("Hash: %v", err)
	}
	if first == second {
		t.Error("two hashes of the same password are equal: the salt is not random")
	}

	for _, tc := range []struct {
		name     string
		password string
		want     bool
	}{
		{"right password", password, true},
		{"wrong password", "correct horse battery stapl", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ok, err := Check(context.Background(), first, tc.password)
			if err != nil {
				t.Fatalf("Check: %v", err)
			}
			if ok != tc.want {
				t.Errorf("Check = %v, want %v", ok, tc.want)
			}
		})
	}
}

func TestHashRefuses(t *testing.T) {
	for _, tc := range []struct {
		name, password string
	}{
		{"empty", ""},
		{"longer than 1024 bytes", strings.Repeat("a", 1025)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if h, err := Hash(tc.password); err == nil {
				t.Errorf("Hash = %q, want an error", h)
			}
		})
	}
}

func TestCheckAcceptsOtherParameters(t *testing.T) {
	for _, tc := range []struct {
		name string
		m, t uint32
		p    uint8
	}{
		{"OWASP-like small", 1024, 2, 1},
		{"four lanes", 256, 1, 4},
		{"minimum memory", 8, 1, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := cheapHash(t, "s3cret", tc.m, tc.t, tc.p)
			if ok, err := Check(context.Background(), h, "s3cret"); err != nil || !ok {
				t.Errorf("right password: Check = %v, %v; want true", ok, err)
			}
			if ok, err := Check(context.Background(), h, "S3cret"); err != nil || ok {
				t.Errorf("wrong password: Check = %v, %v; want false, nil", ok, err)
			}
		})
	}
}

func TestCheckRefusesMalformedHashes(t *testing.T) {
	good := cheapHash(t, "pw", 64, 1, 1)
	salt := base64.RawStdEncoding.EncodeToString([]byte("0123456789abcdef"))
	tag := base64.RawStdEncoding.EncodeToString(make([]byte, 32))
	withParams := func(params string) string {
		return "$argon2id$v=19$" + params + "$" + salt + "$" + tag
	}
	for _, tc := range []struct {
		name, encoded string
	}{
		{"empty", ""},
		{"plain text", "pw"},
		{"sha256 client secret form", HashClientSecret("pw")},
		{"argon2i", strings.Replace(good, "$argon2id$", "$argon2i$", 1)},
		{"argon2d", strings.Replace(good, "$argon2id$", "$argon2d$", 1)},
		{"bcrypt", "$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy"},
		{"old version 16", strings.Replace(good, "v=19", "v=16", 1)},
		{"missing version", strings.Replace(good, "$v=19", "", 1)},
		{"extra field", good + "$x"},
		{"missing hash", good[:strings.LastIndex(good, "$")]},
		{"leading garbage", "x" + good},
		{"memory above 256 MiB", withParams("m=262145,t=1,p=1")},
		{"memory far above limit", withParams("m=4294967295,t=1,p=1")},
		{"memory overflows uint32", withParams("m=4294967296,t=1,p=1")},
		{"time above 10", withParams("m=64,t=11,p=1")},
		{"lanes above 16", withParams("m=1024,t=1,p=17")},
		{"zero time", withParams("m=64,t=0,p=1")},
		{"zero lanes", withParams("m=64,t=1,p=0")},
		{"memory under 8 KiB per lane", withParams("m=31,t=1,p=4")},
		{"parameters out of order", withParams("t=1,m=64,p=1")},
		{"missing parameter", withParams("m=64,t=1")},
		{"extra parameter", withParams("m=64,t=1,p=1,k=2")},
		{"negative number", withParams("m=-64,t=1,p=1")},
		{"plus sign", withParams("m=+64,t=1,p=1")},
		{"leading zero", withParams("m=064,t=1,p=1")},
		{"hex number", withParams("m=0x40,t=1,p=1")},
		{"spaces", withParams("m=64, t=1, p=1")},
		{"empty number", withParams("m=,t=1,p=1")},
		{"padded salt", "$argon2id$v=19$m=64,t=1,p=1$" + base64.StdEncoding.EncodeToString([]byte("0123456789abcdef")) + "$" + tag},
		{"url-safe alphabet", "$argon2id$v=19$m=64,t=1,p=1$" + salt + "$" + strings.Repeat("_", 43)},
		{"salt under 8 bytes", "$argon2id$v=19$m=64,t=1,p=1$" + base64.RawStdEncoding.EncodeToString([]byte("1234567")) + "$" + tag},
		{"salt over 64 bytes", "$argon2id$v=19$m=64,t=1,p=1$" + base64.RawStdEncoding.EncodeToString(make([]byte, 65)) + "$" + tag},
		{"hash under 16 bytes", "$argon2id$v=19$m=64,t=1,p=1$" + salt + "$" + base64.RawStdEncoding.EncodeToString(make([]byte, 15))},
		{"hash over 64 bytes", "$argon2id$v=19$m=64,t=1,p=1$" + salt + "$" + base64.RawStdEncoding.EncodeToString(make([]byte, 65))},
		{"line break in hash", "$argon2id$v=19$m=64,t=1,p=1$" + salt + "$" + tag[:20] + "\r\n" + tag[20:]},
		{"empty hash", "$argon2id$v=19$m=64,t=1,p=1$" + salt + "$"},
		{"very long string", "$argon2id$v=19$m=64,t=1,p=1$" + salt + "$" + strings.Repeat("A", 100000)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ok, err := Check(context.Background(), tc.encoded, "pw")
			if ok || err == nil {
				t.Errorf("Check(context.Background(), %.80q) = %v, %v; want false and an error", tc.encoded, ok, err)
			}
			if ValidateHash(tc.encoded) == nil {
				t.Errorf("ValidateHash(%.80q) accepted it", tc.encoded)
			}
			if strings.HasPrefix(tc.encoded, "$argon2id$") && ValidateSecretHash(tc.encoded) == nil {
				t.Errorf("ValidateSecretHash(%.80q) accepted it", tc.encoded)
			}
		})
	}
}

func TestCheckTooLongPasswordNeverMatches(t *testing.T) {
	long := strings.Repeat("p", 1025)
	h := cheapHash(t, long, 64, 1, 1)
	if ok, err := Check(context.Background(), h, long); ok || err != nil {
		t.Errorf("CheckPassword with a 1025-byte password = %v, %v; want false, nil", ok, err)
	}
}

func TestCheckGivesUpWhenAllSlotsAreBusy(t *testing.T) {
	// Occupy every slot, as a login flood would.
	for range cap(argonSlots) {
		argonSlots <- struct{}{}
	}
	defer func() {
		for range cap(argonSlots) {
			<-argonSlots
		}
	}()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	ok, err := Check(ctx, cheapHash(t, "pw", 64, 1, 1), "pw")
	if ok || !errors.Is(err, context.Canceled) {
		t.Errorf("Check = %v, %v; want false, context.Canceled", ok, err)
	}
}

func TestCheckUnknownUserCostsARealCheck(t *testing.T) {
	p, err := parseArgon2id(dummyHash)
	if err != nil {
		t.Fatalf("the dummy hash does not parse: %v", err)
	}
	if p.memory != argonMemoryKiB || p.time != argonTime || p.threads != argonThreads || len(p.key) != argonKeyLen {
		t.Errorf("dummy hash %q does not have the parameters of new hashes", dummyHash)
	}
	CheckUnknownUser(context.Background(), "anything") // must not panic
	if err := ValidateHash(dummyHash); err != nil {
		t.Errorf("ValidateHash(dummy): %v", err)
	}
}

func TestHashClientSecret(t *testing.T) {
	// SHA-256("abc") from FIPS 180-2, appendix B.1.
	const want = "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
	if got := HashClientSecret("abc"); got != want {
		t.Errorf("HashClientSecret(abc) = %q, want %q", got, want)
	}
}

func TestNewClientSecret(t *testing.T) {
	secret, hash, err := NewClientSecret()
	if err != nil {
		t.Fatalf("NewClientSecret: %v", err)
	}
	raw, err := base64.RawURLEncoding.DecodeString(secret)
	if err != nil || len(raw) != 32 || len(secret) != 43 {
		t.Errorf("secret %q is not 32 bytes of unpadded base64url", secret)
	}
	if hash != HashClientSecret(secret) {
		t.Errorf("hash = %q, want HashClientSecret(secret)", hash)
	}
	if err := ValidateSecretHash(hash); err != nil {
		t.Errorf("ValidateSecretHash(generated hash): %v", err)
	}
	if !CheckClientSecret(context.Background(), hash, secret) {
		t.Error("the generated secret does not match its own hash")
	}
	other, _, err := NewClientSecret()
	if err != nil {
		t.Fatalf("NewClientSecret: %v", err)
	}
	if other == secret {
		t.Error("two generated secrets are equal")
	}
}

func TestCheckClientSecret(t *testing.T) {
	const secret = "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3I"
	shaStored := HashClientSecret(secret)
	argonStored := cheapHash(t, secret, 64, 1, 1)
	long := strings.Repeat("s", 513)
	for _, tc := range []struct {
		name, stored, presented string
		want                    bool
	}{
		{"sha256 right secret", shaStored, secret, true},
		{"sha256 wrong secret", shaStored, secret + "x", false},
		{"sha256 upper-case hex still matches", "sha256:" + strings.ToUpper(shaStored[7:]), secret, true},
		{"sha256 empty secret", HashClientSecret(""), "", false},
		{"sha256 secret over 512 bytes", HashClientSecret(long), long, false},
		{"sha256 short hex", shaStored[:len(shaStored)-2], secret, false},
		{"sha256 bad hex", "sha256:" + strings.Repeat("zz", 32), secret, false},
		// A slow hash is never computed for a client secret: /token would
		// pay a password check for every wrong secret (issue 8, item 1).
		{"argon2id right secret", argonStored, secret, false},
		{"argon2id wrong secret", argonStored, "nope", false},
		{"stored plain text", secret, secret, false},
		{"stored empty", "", "", false},
		{"unknown scheme", "md5:" + strings.Repeat("0", 32), secret, false},
		{"malformed argon2id", "$argon2id$v=19$m=999999999,t=1,p=1$AAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAA", secret, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := CheckClientSecret(context.Background(), tc.stored, tc.presented); got != tc.want {
				t.Errorf("checkClientSecret = %v, want %v", got, tc.want)
			}
		})
	}
}

// TestValidateSecretHashNamesTheFix: a slow hash is refused with the
// command that makes the right one.
func TestValidateSecretHashNamesTheFix(t *testing.T) {
	err := ValidateSecretHash(cheapHash(t, "x", 64, 1, 1))
	if err == nil || !strings.Contains(err.Error(), "keystile client-secret") {
		t.Fatalf("ValidateSecretHash(argon2id) = %v, want a refusal naming keystile client-secret", err)
	}
}

func TestValidateSecretHash(t *testing.T) {
	for _, tc := range []struct {
		name, stored string
		ok           bool
	}{
		{"sha256 form", HashClientSecret("x"), true},
		{"argon2id", cheapHash(t, "x", 64, 1, 1), false},
		{"empty", "", false},
		{"plain secret", "hunter2hunter2hunter2hunter2hunter2", false},
		{"sha256 too short", "sha256:abcd", false},
		{"sha256 too long", HashClientSecret("x") + "00", false},
		{"sha256 not hex", "sha256:" + strings.Repeat("g", 64), false},
		{"sha256 with spaces", HashClientSecret("x") + " ", false},
		{"SHA256 upper-case prefix", "SHA256:" + HashClientSecret("x")[7:], false},
		{"argon2id with huge memory", "$argon2id$v=19$m=1048576,t=1,p=1$MDEyMzQ1Njc4OWFiY2RlZg$AAAAAAAAAAAAAAAAAAAAAA", false},
		{"bcrypt", "$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := ValidateSecretHash(tc.stored)
			if (err == nil) != tc.ok {
				t.Errorf("ValidateSecretHash(%q) = %v, want ok=%v", tc.stored, err, tc.ok)
			}
		})
	}
}

// FuzzCheck feeds arbitrary strings to the PHC parser. Whatever it is
// given it must not panic, a string it accepts must be the one canonical
// spelling of its parameters, and no input may verify: the seed hashes have
// tags that no known password produces.
func FuzzCheck(f *testing.F) {
	f.Add(dummyHash, "password")
	f.Add("$argon2id$v=19$m=64,t=1,p=1$MDEyMzQ1Njc4OWFiY2RlZg$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "")
	f.Add("$argon2id$v=19$m=8,t=1,p=1$AAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAA", "x")
	f.Add("$argon2id$v=19$m=262144,t=10,p=16$AAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAA", "x")
	f.Add("$argon2i$v=19$m=65536,t=2,p=4$c29tZXNhbHQ$RdescudvJCsgt3ub+b+dWRWJTmaaJObG", "password")
	f.Add("$argon2id$v=19$m=065536,t=3,p=2$$", "")
	f.Add("$$$$$$", "")
	f.Fuzz(func(t *testing.T, encoded, password string) {
		p, perr := parseArgon2id(encoded)
		if perr != nil {
			if ok, err := Check(context.Background(), encoded, password); ok || err == nil {
				t.Fatalf("parser refused %q but Check = %v, %v", encoded, ok, err)
			}
			return
		}
		if got := p.encode(); got != encoded {
			t.Fatalf("accepted %q, whose canonical form is %q", encoded, got)
		}
		// Run argon2id itself only where it is cheap; the parser is what
		// is under test, and the bounds cap the rest.
		if p.memory <= 1024 && p.time <= 2 {
			if ok, err := Check(context.Background(), encoded, password); ok || err != nil {
				t.Fatalf("Check(context.Background(), %q, %q) = %v, %v; want false, nil", encoded, password, ok, err)
			}
		}
	})
}

// BenchmarkHash measures one hash with the default parameters, the
// cost of every login and of CheckUnknownUser.
func BenchmarkHash(b *testing.B) {
	for b.Loop() {
		if _, err := Hash("correct horse battery staple"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCheckParallel shows the throughput of logins on all cores
// through the semaphore.
func BenchmarkCheckParallel(b *testing.B) {
	h, err := Hash("correct horse battery staple")
	if err != nil {
		b.Fatal(err)
	}
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := Check(context.Background(), h, "wrong"); err != nil {
				b.Error(err)
			}
		}
	})
}

// TestDummyHash: a dummy hash has the parameters of the hash it is like,
// checks without error and matches no password.
func TestDummyHash(t *testing.T) {
	like := cheapHash(t, "pw", 256, 2, 1)
	d, err := DummyHash(like)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(d, "$argon2id$v=19$m=256,t=2,p=1$") || d == like {
		t.Fatalf("DummyHash(%q) = %q, want the same parameters and another salt and tag", like, d)
	}
	for _, pw := range []string{"pw", "", "keystile dummy"} {
		if ok, err := Check(context.Background(), d, pw); ok || err != nil {
			t.Errorf("Check(dummy, %q) = %v, %v; want false, nil", pw, ok, err)
		}
	}
	if def, _ := DummyHash(""); def != dummyHash {
		t.Errorf("DummyHash(\"\") = %q, want the default dummy", def)
	}
	if _, err := DummyHash("$2a$10$bcrypt"); err == nil {
		t.Error("DummyHash of a bcrypt hash succeeded")
	}
}

// TestParsedClientSecretHashChecksAsStored: a hash decoded once checks
// secrets as CheckClientSecret does with the stored string, and a hash that
// does not parse (or the zero value) matches nothing.
func TestParsedClientSecretHashChecksAsStored(t *testing.T) {
	secret, stored, err := NewClientSecret()
	if err != nil {
		t.Fatal(err)
	}
	h, ok := ParseClientSecretHash(stored)
	if !ok {
		t.Fatalf("ParseClientSecretHash(%q) refused a hash HashClientSecret made", stored)
	}
	long, _, err := NewClientSecret()
	if err != nil {
		t.Fatal(err)
	}
	long = strings.Repeat(long, 20)[:512] // the longest secret checked
	longHash, _ := ParseClientSecretHash(HashClientSecret(long))
	if !longHash.Check(long) || longHash.Check(long[:511]) || longHash.Check(long+"x") {
		t.Error("a 512-byte secret does not check as itself only")
	}
	for _, presented := range []string{secret, secret + "x", "", strings.Repeat("a", 513), strings.ToUpper(secret)} {
		if got, want := h.Check(presented), CheckClientSecret(context.Background(), stored, presented); got != want || (got != (presented == secret)) {
			t.Errorf("Check(%.20q) = %v, CheckClientSecret = %v; want both %v", presented, got, want, presented == secret)
		}
	}
	for _, bad := range []string{"", "sha256:", "sha256:zz" + stored[9:], stored[:len(stored)-2], "$argon2id$v=19$m=8,t=1,p=1$c2FsdA$aGFzaA"} {
		if h, ok := ParseClientSecretHash(bad); ok || h.Check(secret) {
			t.Errorf("ParseClientSecretHash(%q) = ok %v, and it matches a secret: want neither", bad, ok)
		}
	}
	var zero ClientSecretHash
	if zero.Check(secret) || zero.Check("") {
		t.Error("the zero ClientSecretHash matched a secret")
	}
	// Every /token request checks a secret: it allocates nothing.
	if n := testing.AllocsPerRun(100, func() { h.Check(secret) }); n != 0 {
		t.Errorf("Check allocates %v times, want 0", n)
	}
}
