// Package password stores and checks the secrets people and clients present
// to Keystile: user passwords as argon2id PHC strings (RFC 9106), and client
// secrets, which are random 256-bit values stored as their SHA-256.
//
// Every argon2id computation runs in one of a bounded number of slots (one
// per CPU), so that a flood of sign-ins costs queueing time, never unbounded
// memory; a few seconds after the last one ends, that memory goes back to
// the operating system (release.go).
package password

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
)

// Argon2id parameters for new password hashes. They follow the second
// recommended option of RFC 9106 §4 (t=3 passes over m=64 MiB, 128-bit salt,
// 256-bit tag), with p=2 lanes instead of 4: p does not change the memory an
// attacker must spend per guess, and on the server the semaphore below already
// runs one check per CPU, so more lanes would only make the checks fight for
// the same cores. One hash takes about 0.1–0.2 s on one core of a 2024 laptop
// (see BenchmarkHash); OWASP's floor is m=19 MiB, t=2, p=1.
const (
	argonMemoryKiB = 64 * 1024
	argonTime      = 3
	argonThreads   = 2
	argonSaltLen   = 16
	argonKeyLen    = 32
)

// Bounds on the parameters of a hash we agree to check. An encoded hash comes
// from a configuration file, but a hostile or mistyped one must not be able to
// allocate gigabytes or spin for minutes on every login .
const (
	maxArgonMemoryKiB = 256 * 1024
	maxArgonTime      = 10
	maxArgonThreads   = 16
	minArgonSaltLen   = 8 // RFC 9106 §3.1: at least 8 bytes
	maxArgonSaltLen   = 64
	minArgonKeyLen    = 16
	maxArgonKeyLen    = 64
	// maxHashedPasswordLen bounds what is fed to argon2id; anything longer is
	// refused by Hash and never matches in Check.
	maxHashedPasswordLen = 1024
	// maxClientSecretLen bounds a presented client secret before it is hashed.
	maxClientSecretLen = 512
)

// argonSlots bounds how many argon2id computations run at once, so that a
// flood of logins costs queueing time, never more than NumCPU × m of memory
// . Each slot is a token in the buffered channel.
var argonSlots = make(chan struct{}, runtime.NumCPU())

// b64 is the PHC string encoding: standard alphabet, no padding. Strict
// rejects non-zero trailing bits, so one hash has exactly one spelling.
var b64 = base64.RawStdEncoding.Strict()

// Hash returns the argon2id hash of password as a PHC string,
// $argon2id$v=19$m=65536,t=3,p=2$<salt>$<hash>, the form the users file takes
// (RFC 9106; PHC string format). It refuses an empty password and one longer
// than 1024 bytes.
func Hash(password string) (string, error) {
	if password == "" {
		return "", errors.New("keystile: password is empty")
	}
	if len(password) > maxHashedPasswordLen {
		return "", fmt.Errorf("keystile: password is longer than %d bytes", maxHashedPasswordLen)
	}
	salt := make([]byte, argonSaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("keystile: reading a random salt: %w", err)
	}
	p := argonParams{memory: argonMemoryKiB, time: argonTime, threads: argonThreads, salt: salt}
	// Hash has no context: it runs from the command line and tests.
	key, err := p.derive(context.Background(), password, argonKeyLen)
	if err != nil {
		return "", err
	}
	p.key = key
	return p.encode(), nil
}

// Check reports whether password matches encoded, an argon2id PHC string made
// by Hash (or any argon2id v=19 hash within the bounds: m ≤ 256 MiB, t ≤ 10,
// p ≤ 16). A wrong password is (false, nil); a malformed or out-of-bounds hash
// is (false, error). The comparison is constant-time. Check gives up waiting
// for a free argon2 slot when ctx is done (a client that went away),
// returning ctx.Err(); a computation that has started runs to its end.
func Check(ctx context.Context, encoded, password string) (bool, error) {
	p, err := parseArgon2id(encoded)
	if err != nil {
		return false, err
	}
	if len(password) > maxHashedPasswordLen {
		return false, nil
	}
	key, err := p.derive(ctx, password, uint32(len(p.key)))
	if err != nil {
		return false, err
	}
	return subtle.ConstantTimeCompare(key, p.key) == 1, nil
}

// ValidateHash reports whether encoded is an argon2id PHC string that
// Check accepts, without the cost of checking a password against it:
// a users file is checked this way when it is loaded.
func ValidateHash(encoded string) error {
	_, err := parseArgon2id(encoded)
	return err
}

// dummyHash has the default parameters and a salt and tag that no password is
// known to produce: checking against it costs what a real check costs.
var dummyHash = argonParams{
	memory:  argonMemoryKiB,
	time:    argonTime,
	threads: argonThreads,
	salt:    []byte("keystile-dummy-s"),
	key:     []byte("keystile dummy argon2id tag!!!!!"),
}.encode()

// CheckUnknownUser spends the time and memory of one password check at the
// parameters Hash uses, and discards the result. A user-validation callback
// calls it for an unknown user, so that an unknown user and a wrong password
// take the same time and the login form cannot be used to list the
// usernames. It stops waiting for a free argon2 slot when ctx is done.
//
// It matches only users whose hashes Hash made. A user whose hash has other
// parameters (migrated from another system, say m=19456,t=2) costs
// something else, and the difference shows: check unknown users against
// DummyHash of such a hash instead, or better, make every check cost the
// same, as the keystile binary does (one check per parameter set in its
// users file, whoever signs in).
func CheckUnknownUser(ctx context.Context, password string) {
	_, _ = Check(ctx, dummyHash, password)
}

// DummyHash returns an argon2id PHC string with the parameters (memory,
// passes, lanes, salt and tag lengths) of like, and a salt and tag that no
// password is known to produce: checking a password against it costs what
// checking against like costs, and never matches. With like empty it has
// the parameters Hash uses. A like that Check would refuse is an error.
func DummyHash(like string) (string, error) {
	if like == "" {
		return dummyHash, nil
	}
	p, err := parseArgon2id(like)
	if err != nil {
		return "", err
	}
	salt := sha512.Sum512([]byte("keystile dummy argon2id salt"))
	tag := sha512.Sum512([]byte("keystile dummy argon2id tag"))
	p.salt = salt[:len(p.salt)]
	p.key = tag[:len(p.key)]
	return p.encode(), nil
}

// argonParams is a parsed argon2id PHC string.
type argonParams struct {
	memory  uint32 // KiB
	time    uint32
	threads uint8
	salt    []byte
	key     []byte
}

func (p argonParams) encode() string {
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, p.memory, p.time, p.threads,
		b64.EncodeToString(p.salt), b64.EncodeToString(p.key))
}

// derive runs argon2id in one of the argonSlots.
func (p argonParams) derive(ctx context.Context, password string, keyLen uint32) ([]byte, error) {
	// A request whose client has gone costs nothing; select alone would
	// pick at random between a free slot and a done context.
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("keystile: waiting to check a password: %w", err)
	}
	select {
	case argonSlots <- struct{}{}:
	case <-ctx.Done():
		return nil, fmt.Errorf("keystile: waiting to check a password: %w", ctx.Err())
	}
	defer func() { <-argonSlots }()
	argonMemory.start()
	defer argonMemory.done()
	return argon2.IDKey([]byte(password), p.salt, p.time, p.memory, p.threads, keyLen), nil
}

// parseArgon2id parses $argon2id$v=19$m=M,t=T,p=P$SALT$HASH strictly: the
// parameters in this order, decimal without sign or leading zero, unpadded
// standard base64, and every value within the bounds above.
func parseArgon2id(encoded string) (argonParams, error) {
	var p argonParams
	if len(encoded) > 512 {
		return p, errors.New("keystile: argon2id hash is too long")
	}
	parts := strings.Split(encoded, "$")
	// "", "argon2id", "v=19", "m=…,t=…,p=…", salt, hash
	if len(parts) > 2 && parts[0] == "" && parts[1] != "argon2id" {
		return p, errors.New("keystile: the hash algorithm is not argon2id")
	}
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return p, errors.New("keystile: not a PHC string ($argon2id$v=19$m=…,t=…,p=…$salt$hash)")
	}
	if parts[2] != "v="+strconv.Itoa(argon2.Version) {
		return p, fmt.Errorf("keystile: argon2id version must be v=%d", argon2.Version)
	}
	params := strings.Split(parts[3], ",")
	if len(params) != 3 {
		return p, errors.New("keystile: argon2id parameters must be m=…,t=…,p=…")
	}
	m, err := phcUint(params[0], "m=", maxArgonMemoryKiB)
	if err != nil {
		return p, err
	}
	t, err := phcUint(params[1], "t=", maxArgonTime)
	if err != nil {
		return p, err
	}
	threads, err := phcUint(params[2], "p=", maxArgonThreads)
	if err != nil {
		return p, err
	}
	if t < 1 || threads < 1 {
		return p, errors.New("keystile: argon2id t and p must be at least 1")
	}
	// RFC 9106 §3.1: memory is at least 8 KiB per lane.
	if m < 8*threads {
		return p, errors.New("keystile: argon2id m must be at least 8×p KiB")
	}
	salt, err := phcBase64(parts[4])
	if err != nil || len(salt) < minArgonSaltLen || len(salt) > maxArgonSaltLen {
		return p, fmt.Errorf("keystile: argon2id salt must be %d to %d bytes of unpadded base64", minArgonSaltLen, maxArgonSaltLen)
	}
	key, err := phcBase64(parts[5])
	if err != nil || len(key) < minArgonKeyLen || len(key) > maxArgonKeyLen {
		return p, fmt.Errorf("keystile: argon2id hash must be %d to %d bytes of unpadded base64", minArgonKeyLen, maxArgonKeyLen)
	}
	return argonParams{memory: m, time: t, threads: uint8(threads), salt: salt, key: key}, nil
}

// phcBase64 decodes unpadded standard base64, refusing the carriage returns
// and newlines that encoding/base64 would otherwise skip.
func phcBase64(s string) ([]byte, error) {
	if strings.ContainsAny(s, "\r\n") {
		return nil, errors.New("keystile: line break in base64")
	}
	return b64.DecodeString(s)
}

// phcUint parses one "k=N" parameter: N in decimal digits only, no sign, no
// leading zero, at most limit.
func phcUint(s, prefix string, limit uint32) (uint32, error) {
	name := strings.TrimSuffix(prefix, "=")
	digits, ok := strings.CutPrefix(s, prefix)
	if !ok {
		return 0, fmt.Errorf("keystile: argon2id parameters must be m=…,t=…,p=… in that order")
	}
	if digits == "" || len(digits) > 10 || (len(digits) > 1 && digits[0] == '0') {
		return 0, fmt.Errorf("keystile: argon2id parameter %s is not a number", name)
	}
	for _, c := range []byte(digits) {
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("keystile: argon2id parameter %s is not a number", name)
		}
	}
	n, err := strconv.ParseUint(digits, 10, 32)
	if err != nil || n > uint64(limit) {
		return 0, fmt.Errorf("keystile: argon2id parameter %s is above the limit of %d", name, limit)
	}
	return uint32(n), nil
}

// sha256Prefix marks a client secret stored as its SHA-256. A random 256-bit
// secret cannot be guessed, so a slow hash adds nothing but cost to /token.
const sha256Prefix = "sha256:"

// HashClientSecret returns the stored form of a client secret:
// "sha256:" followed by the lowercase hex SHA-256 of secret. Use it only for
// random secrets such as those from NewClientSecret: a client secret is
// never chosen by a person.
func HashClientSecret(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return sha256Prefix + hex.EncodeToString(sum[:])
}

// NewClientSecret returns a new client secret of 256 bits from
// crypto/rand, base64url-encoded without padding (43 characters), and its
// stored form from HashClientSecret. The secret goes to the client; only the
// hash goes into the server's configuration.
func NewClientSecret() (secret, hash string, err error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", "", fmt.Errorf("keystile: reading a random client secret: %w", err)
	}
	secret = base64.RawURLEncoding.EncodeToString(b)
	return secret, HashClientSecret(secret), nil
}

// CheckClientSecret reports whether presented matches stored, which is
// "sha256:<hex>". Anything else (an argon2id hash among them: see
// ValidateSecretHash), an empty secret or one longer than 512 bytes never
// matches, and costs nothing. The comparison is constant-time. ctx is
// unused: a SHA-256 never waits. A caller that checks the same stored hash
// again and again parses it once with ParseClientSecretHash.
func CheckClientSecret(_ context.Context, stored, presented string) bool {
	h, ok := ParseClientSecretHash(stored)
	return ok && h.Check(presented)
}

// ClientSecretHash is a stored client secret ("sha256:<hex>") decoded, so
// that a check hashes the presented secret and compares, with no decoding
// per request. The zero value matches nothing.
type ClientSecretHash struct {
	sum [sha256.Size]byte
	ok  bool
}

// ParseClientSecretHash decodes stored, a client's secret_hash; ok is false
// for anything that is not "sha256:" and 64 hex digits (ValidateSecretHash
// says why).
func ParseClientSecretHash(stored string) (h ClientSecretHash, ok bool) {
	if !strings.HasPrefix(stored, sha256Prefix) {
		return ClientSecretHash{}, false
	}
	want, err := hex.DecodeString(stored[len(sha256Prefix):])
	if err != nil || len(want) != sha256.Size {
		return ClientSecretHash{}, false
	}
	copy(h.sum[:], want)
	h.ok = true
	return h, true
}

// Check reports whether presented is the secret h was made from, by the
// rules of CheckClientSecret: an empty secret or one longer than 512 bytes
// never matches, and the comparison is constant-time.
func (h *ClientSecretHash) Check(presented string) bool {
	if !h.ok || presented == "" || len(presented) > maxClientSecretLen {
		return false
	}
	// Hashed from a copy on the stack: []byte(presented) was an allocation
	// on every client authentication. The copy is wiped after.
	var buf [maxClientSecretLen]byte
	n := copy(buf[:], presented)
	got := sha256.Sum256(buf[:n])
	clear(buf[:n])
	return subtle.ConstantTimeCompare(got[:], h.sum[:]) == 1
}

// ValidateSecretHash checks a client's configured secret_hash when the
// configuration is loaded, so that a mistake fails at start rather than as
// invalid_client at every request. Only the "sha256:" form is accepted. A
// slow hash such as argon2id is refused: a client secret is a random
// 256-bit value that no hash makes harder to guess, and a slow one would
// let anyone without credentials spend a password check (and the login
// form's argon2 slots) with every wrong secret sent to /token.
func ValidateSecretHash(stored string) error {
	switch {
	case strings.HasPrefix(stored, sha256Prefix):
		h := stored[len(sha256Prefix):]
		if b, err := hex.DecodeString(h); err != nil || len(b) != sha256.Size {
			return errors.New(`a "sha256:" secret hash must be followed by 64 hex digits`)
		}
		return nil
	case strings.HasPrefix(stored, "$argon2id$"):
		return errors.New(`an argon2id hash is too slow for a client secret: every wrong secret sent to /token would cost a password check; ` +
			`make a random secret and its "sha256:" form with keystile client-secret (or password.NewClientSecret), and give the client the new secret`)
	default:
		return errors.New(`secret hash must be "sha256:<64 hex digits>": make one with keystile client-secret`)
	}
}
