// Package keyfile reads and writes Keystile's signing-key files: one or more
// PEM private keys, newest (the signer) first, each with optional headers
// that record when it was created and when it stopped signing:
//
//	-----BEGIN PRIVATE KEY-----
//	Keystile-Created: 2030-01-02T03:04:05Z
//
//	MC4CAQAwBQYDK2VwBCIEI…
//	-----END PRIVATE KEY-----
//	-----BEGIN PRIVATE KEY-----
//	Keystile-Created: 2029-10-01T00:00:00Z
//	Keystile-Retired: 2030-01-02T03:04:05Z
//	…
//
// What Load returns is what keystile.Config.Keys and Server.SetKeys take, so
// a server starts, and reloads, from a file in one step.
package keyfile

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/keystile/keystile"
)

// PEM headers of a key file block (RFC 7468 has no headers; encoding/pem
// keeps the RFC 1421 form, which other tools ignore).
const (
	headerCreated = "Keystile-Created"
	headerRetired = "Keystile-Retired"
	// maxFileBytes bounds what Load reads: a 4096-bit RSA key is about
	// 3.3 KiB of PEM, so this holds hundreds of keys.
	maxFileBytes = 1 << 20
	// generatedRSABits is the size of generated RS256 keys. 2048 bits is
	// acceptable through 2030 (NIST SP 800-57) and signs about four times
	// faster than 3072; key generation for 3072 bits also takes seconds on a
	// small machine, which the quickstart would feel at every first start.
	// Operators who want 3072 or 4096 bits provide their own PEM file.
	generatedRSABits = 2048
)

// entry is one key of a file, with the private key as parsed so that the
// file can be written back without the library handing out key material.
type entry struct {
	priv    any
	key     keystile.SigningKey
	created time.Time
	retired time.Time
}

// Load reads the key file at path and returns its keys in file order, each
// marked with its Keystile-Retired time (SigningKey.Retire). Blocks are
// "PRIVATE KEY" (PKCS #8: RSA, P-256 or Ed25519), "RSA PRIVATE KEY" (PKCS
// #1) or "EC PRIVATE KEY" (SEC 1). A file with a single block and no
// headers is one signing key.
//
// Anything Load cannot read with certainty is an error, never a skipped
// key: a malformed block, an encrypted key, a weak RSA key, an unknown block
// type, a bad time, text after the last block, a retired first key, or a
// key given twice. A missing file is an error that wraps fs.ErrNotExist.
func Load(path string) ([]keystile.SigningKey, error) {
	entries, err := read(path)
	if err != nil {
		return nil, err
	}
	return keysOf(entries), nil
}

// LoadOrCreate is Load, except that a missing file is first created with one
// new key of algorithm (RS256, ES256 or EdDSA). created reports whether this
// call made the file. The file appears atomically with mode 0600 and is
// never replaced: of two processes starting together, both end up using the
// key of the one that created it.
//
// The permissions of an existing file are not checked: a library cannot warn
// anybody, and refusing would break setups where a secret manager mounts the
// file with its own modes. Keep it readable by the server's user only.
func LoadOrCreate(path, algorithm string) (keys []keystile.SigningKey, created bool, err error) {
	keys, err = Load(path)
	if !errors.Is(err, fs.ErrNotExist) {
		return keys, false, err
	}
	e, err := generate(algorithm, time.Now())
	if err != nil {
		return nil, false, err
	}
	data, err := encode([]entry{e})
	if err != nil {
		return nil, false, err
	}
	created, err = writeFile(path, data, false)
	if err != nil {
		return nil, false, err
	}
	keys, err = Load(path)
	return keys, created, err
}

// fileMu serialises Rotate within a process, so that two rotations cannot
// both read the old file and lose one another's key. Separate processes
// rotating the same file at once are not protected: rotation is an
// operator's command, run once at a time.
var fileMu sync.Mutex

// Rotate adds a new signing key to the key file at path and returns it. The
// new key, of algorithm RS256, ES256 or EdDSA, comes first with
// Keystile-Created: now; the key that signed until then is marked
// Keystile-Retired: now; keys retired before now-keep are dropped. A missing
// file is created with the new key alone.
//
// keep should be at least the servers' AccessTokenTTL plus
// keystile.DefaultLeeway: a server that reloads the file stops trusting a
// dropped key at once, and tokens it signed may still be live.
//
// The file is replaced atomically (a new file with mode 0600 in the same
// directory, renamed over the old one), so a reader sees the old file or the
// new one, never a mix. A file that Load refuses is left untouched and the
// error returned: rotation never overwrites what it cannot read.
func Rotate(path, algorithm string, now time.Time, keep time.Duration) (keystile.SigningKey, error) {
	if keep < 0 {
		return keystile.SigningKey{}, errors.New("keystile: rotating the key file: keep must not be negative")
	}
	// Generated before taking the lock: an RSA key takes a while.
	next, err := generate(algorithm, now)
	if err != nil {
		return keystile.SigningKey{}, err
	}
	fileMu.Lock()
	defer fileMu.Unlock()
	old, err := read(path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return keystile.SigningKey{}, err
	}
	entries := []entry{next}
	cutoff := now.Add(-keep)
	for i, e := range old {
		if i == 0 {
			e.retired = now
		}
		if !e.retired.IsZero() && e.retired.Before(cutoff) {
			continue
		}
		entries = append(entries, e)
	}
	if err := keystile.CheckKeys(keysOf(entries)); err != nil {
		return keystile.SigningKey{}, fmt.Errorf("keystile: rotating the key file: %w", err)
	}
	data, err := encode(entries)
	if err != nil {
		return keystile.SigningKey{}, fmt.Errorf("keystile: rotating the key file: %w", err)
	}
	if _, err := writeFile(path, data, true); err != nil {
		return keystile.SigningKey{}, err
	}
	return next.key, nil
}

// read loads and parses the file at path, bounded in size.
func read(path string) ([]entry, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("keystile: reading the key file: %w", err)
	}
	if len(data) > maxFileBytes {
		return nil, fmt.Errorf("keystile: the key file %s is larger than %d bytes", path, maxFileBytes)
	}
	entries, err := parse(data)
	if err != nil {
		return nil, fmt.Errorf("keystile: key file %s: %w", path, err)
	}
	return entries, nil
}

// keysOf returns the signing keys of entries, marked with their retirement.
func keysOf(entries []entry) []keystile.SigningKey {
	keys := make([]keystile.SigningKey, len(entries))
	for i, e := range entries {
		keys[i] = e.key
		if !e.retired.IsZero() {
			keys[i] = e.key.Retire(e.retired)
		}
	}
	return keys
}

// parse is the pure parser behind Load (fuzzed). Its errors name blocks by
// position and never quote key material.
func parse(data []byte) ([]entry, error) {
	// pem.Decode skips a malformed block and returns the next good one, so
	// a damaged key would vanish without a word: count the BEGIN lines and
	// insist that every one of them decoded.
	begins := bytes.Count(data, []byte("-----BEGIN "))
	var entries []entry
	rest := data
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		e, err := parseBlock(block)
		if err != nil {
			return nil, fmt.Errorf("key %d: %w", len(entries), err)
		}
		entries = append(entries, e)
	}
	if len(entries) == 0 {
		return nil, errors.New("no PEM key block")
	}
	if len(entries) != begins {
		return nil, fmt.Errorf("%d of %d PEM blocks are malformed", begins-len(entries), begins)
	}
	if len(bytes.TrimSpace(rest)) != 0 {
		return nil, errors.New("text after the last PEM block (a truncated key?)")
	}
	if err := keystile.CheckKeys(keysOf(entries)); err != nil {
		return nil, err
	}
	return entries, nil
}

func parseBlock(block *pem.Block) (entry, error) {
	var e entry
	if _, ok := block.Headers["Proc-Type"]; ok {
		return e, errors.New("encrypted PEM keys are not supported")
	}
	var err error
	if e.created, err = headerTime(block, headerCreated); err != nil {
		return e, err
	}
	if e.retired, err = headerTime(block, headerRetired); err != nil {
		return e, err
	}
	switch block.Type {
	case "PRIVATE KEY":
		e.priv, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	case "RSA PRIVATE KEY":
		e.priv, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	case "EC PRIVATE KEY":
		e.priv, err = x509.ParseECPrivateKey(block.Bytes)
	default:
		// The type is a label, not a secret: safe to name.
		return e, fmt.Errorf("a %q PEM block, want PRIVATE KEY, RSA PRIVATE KEY or EC PRIVATE KEY", block.Type)
	}
	if err != nil {
		return e, fmt.Errorf("parsing the %s block: %w", block.Type, err)
	}
	if e.key, err = keystile.NewSigningKey(e.priv); err != nil {
		return e, err
	}
	return e, nil
}

func headerTime(block *pem.Block, name string) (time.Time, error) {
	v, ok := block.Headers[name]
	if !ok {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339, v)
	// RFC 3339 years are four digits; a time whose UTC year is outside
	// them could be read but not written back.
	if y := t.UTC().Year(); err != nil || y < 1 || y > 9999 {
		return time.Time{}, fmt.Errorf("header %s is not an RFC 3339 time", name)
	}
	return t, nil
}

// encode is the inverse of parse. Times are written in UTC to the second.
func encode(entries []entry) ([]byte, error) {
	var buf bytes.Buffer
	for i, e := range entries {
		der, err := x509.MarshalPKCS8PrivateKey(e.priv)
		if err != nil {
			return nil, fmt.Errorf("key %d: encoding as PKCS #8: %w", i, err)
		}
		headers := map[string]string{}
		if !e.created.IsZero() {
			headers[headerCreated] = e.created.UTC().Format(time.RFC3339)
		}
		if !e.retired.IsZero() {
			headers[headerRetired] = e.retired.UTC().Format(time.RFC3339)
		}
		if err := pem.Encode(&buf, &pem.Block{Type: "PRIVATE KEY", Headers: headers, Bytes: der}); err != nil {
			return nil, fmt.Errorf("key %d: encoding as PEM: %w", i, err)
		}
	}
	return buf.Bytes(), nil
}

// generate returns a new key of algorithm: RS256 (generatedRSABits), ES256
// (P-256) or EdDSA (Ed25519). HS256 secrets are not generated here: they are
// shared with verifiers, so they are made and distributed by the operator.
func generate(algorithm string, now time.Time) (entry, error) {
	e := entry{created: now}
	var err error
	switch algorithm {
	case keystile.AlgRS256:
		e.priv, err = rsa.GenerateKey(rand.Reader, generatedRSABits)
	case keystile.AlgES256:
		e.priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case keystile.AlgEdDSA:
		_, e.priv, err = ed25519.GenerateKey(rand.Reader)
	default:
		return e, fmt.Errorf("keystile: cannot generate %q keys; want RS256, ES256 or EdDSA", algorithm)
	}
	if err != nil {
		return e, fmt.Errorf("keystile: generating an %s key: %w", algorithm, err)
	}
	e.key, err = keystile.NewSigningKey(e.priv)
	return e, err
}

// writeFile writes data to path atomically with mode 0600: a temporary file
// in the same directory (same file system), synced, then moved into place,
// then the directory synced. With replace, a rename puts it over an existing
// file; without, a hard link installs it only if path does not exist yet
// (created is false when another writer got there first).
func writeFile(path string, data []byte, replace bool) (created bool, err error) {
	dir := filepath.Dir(path)
	// CreateTemp opens with O_EXCL and mode 0600.
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return false, fmt.Errorf("keystile: creating the key file: %w", err)
	}
	tmpName := tmp.Name()
	// After a link this only drops the temporary name; after a rename it
	// finds nothing to remove.
	defer os.Remove(tmpName)
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return false, fmt.Errorf("keystile: writing the key file: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return false, fmt.Errorf("keystile: syncing the key file: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return false, fmt.Errorf("keystile: closing the key file: %w", err)
	}
	if replace {
		err = os.Rename(tmpName, path)
	} else {
		// A hard link, unlike rename, never replaces an existing file: if
		// two processes race, the loser keeps the winner's key.
		err = os.Link(tmpName, path)
		if errors.Is(err, fs.ErrExist) {
			return false, nil
		}
	}
	if err != nil {
		return false, fmt.Errorf("keystile: installing the key file: %w", err)
	}
	if d, err := os.Open(dir); err == nil {
		// Make the new directory entry durable; some file systems refuse to
		// sync a directory, which is not worth failing for.
		_ = d.Sync()
		d.Close()
	}
	return true, nil
}

// Generate returns a new key of algorithm (RS256, ES256 or EdDSA), created
// at now, both as the signing key and as the bytes of a key file that holds
// it alone: what a server that keeps its keys elsewhere than in a file (in
// its store) writes there, and reads back with [Parse].
func Generate(algorithm string, now time.Time) ([]byte, keystile.SigningKey, error) {
	e, err := generate(algorithm, now)
	if err != nil {
		return nil, keystile.SigningKey{}, err
	}
	data, err := encode([]entry{e})
	if err != nil {
		return nil, keystile.SigningKey{}, err
	}
	return data, e.key, nil
}

// Parse reads the bytes of a key file, as [Load] reads the file: the keys
// in order, each marked with its retirement.
func Parse(data []byte) ([]keystile.SigningKey, error) {
	if len(data) > maxFileBytes {
		return nil, fmt.Errorf("keystile: key data larger than %d bytes", maxFileBytes)
	}
	entries, err := parse(data)
	if err != nil {
		return nil, fmt.Errorf("keystile: key data: %w", err)
	}
	return keysOf(entries), nil
}
