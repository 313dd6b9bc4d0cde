package keystile

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
)

// PEM headers of a key file block (RFC 7468 has no headers; encoding/pem
// keeps the RFC 1421 form, which other tools ignore).
const (
	keyFileCreated = "Keystile-Created"
	keyFileRetired = "Keystile-Retired"
	// maxKeyFileBytes bounds what LoadKeyFile reads: a 4096-bit RSA key is
	// about 3.3 KiB of PEM, so this holds hundreds of keys.
	maxKeyFileBytes = 1 << 20
)

// KeyFileEntry is one key of a key file.
type KeyFileEntry struct {
	Key SigningKey
	// Created is when the key was generated; zero if the file does not say.
	Created time.Time
	// Retired is when the key stopped signing; zero for the key that signs
	// and for keys that only verify with no end.
	Retired time.Time
}

// LoadKeyFile reads a key file: one or more PEM blocks, newest first, each a
// private key ("PRIVATE KEY", PKCS #8: RSA, P-256 or Ed25519; "RSA PRIVATE
// KEY", PKCS #1; "EC PRIVATE KEY", SEC 1) with optional headers
// "Keystile-Created" and "Keystile-Retired" holding RFC 3339 times:
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
// The first key signs and must not be retired; the others verify (see
// Server.SetKeys). A file with a single block and no headers, such as the one
// LoadOrCreateRSAKey writes, is one signing key. Anything the function cannot
// read with certainty is an error, never a skipped key: a malformed block,
// an encrypted key, a weak RSA key, an unknown block type, a bad time, text
// after the last block, or a key given twice.
func LoadKeyFile(path string) ([]KeyFileEntry, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("keystile: reading the key file: %w", err)
	}
	if len(data) > maxKeyFileBytes {
		return nil, fmt.Errorf("keystile: the key file %s is larger than %d bytes", path, maxKeyFileBytes)
	}
	entries, err := parseKeyFile(data)
	if err != nil {
		return nil, fmt.Errorf("keystile: key file %s: %w", path, err)
	}
	return entries, nil
}

// parseKeyFile is the pure parser behind LoadKeyFile (fuzzed). Its errors
// name blocks by position and never quote key material.
func parseKeyFile(data []byte) ([]KeyFileEntry, error) {
	// pem.Decode skips a malformed block and returns the next good one, so
	// a damaged key would vanish without a word: count the BEGIN lines and
	// insist that every one of them decoded.
	begins := bytes.Count(data, []byte("-----BEGIN "))
	var entries []KeyFileEntry
	rest := data
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		e, err := parseKeyBlock(block)
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
	if err := checkEntries(entries); err != nil {
		return nil, err
	}
	return entries, nil
}

func parseKeyBlock(block *pem.Block) (KeyFileEntry, error) {
	var e KeyFileEntry
	if _, ok := block.Headers["Proc-Type"]; ok {
		return e, errors.New("encrypted PEM keys are not supported")
	}
	var err error
	if e.Created, err = headerTime(block, keyFileCreated); err != nil {
		return e, err
	}
	if e.Retired, err = headerTime(block, keyFileRetired); err != nil {
		return e, err
	}
	var priv any
	switch block.Type {
	case "PRIVATE KEY":
		priv, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	case "RSA PRIVATE KEY":
		priv, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	case "EC PRIVATE KEY":
		priv, err = x509.ParseECPrivateKey(block.Bytes)
	default:
		// The type is a label, not a secret: safe to name.
		return e, fmt.Errorf("a %q PEM block, want PRIVATE KEY, RSA PRIVATE KEY or EC PRIVATE KEY", block.Type)
	}
	if err != nil {
		return e, fmt.Errorf("parsing the %s block: %w", block.Type, err)
	}
	if e.Key, err = signingKeyFor(priv); err != nil {
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

// signingKeyFor wraps a parsed private key in the SigningKey of its
// algorithm, with that constructor's checks (RSA size, P-256 only).
func signingKeyFor(priv any) (SigningKey, error) {
	switch k := priv.(type) {
	case *rsa.PrivateKey:
		return NewRS256Key(k)
	case *ecdsa.PrivateKey:
		return NewES256Key(k)
	case ed25519.PrivateKey:
		return NewEdDSAKey(k)
	default:
		return SigningKey{}, fmt.Errorf("unsupported private key type %T", priv)
	}
}

// encodeKeyFile is the inverse of parseKeyFile. Times are written in UTC to
// the second.
func encodeKeyFile(entries []KeyFileEntry) ([]byte, error) {
	var buf bytes.Buffer
	for i, e := range entries {
		if e.Key.public == nil {
			return nil, fmt.Errorf("key %d: %s keys cannot be stored in a key file", i, e.Key.alg)
		}
		der, err := x509.MarshalPKCS8PrivateKey(e.Key.sign)
		if err != nil {
			return nil, fmt.Errorf("key %d: encoding as PKCS #8: %w", i, err)
		}
		headers := map[string]string{}
		if !e.Created.IsZero() {
			headers[keyFileCreated] = e.Created.UTC().Format(time.RFC3339)
		}
		if !e.Retired.IsZero() {
			headers[keyFileRetired] = e.Retired.UTC().Format(time.RFC3339)
		}
		if err := pem.Encode(&buf, &pem.Block{Type: "PRIVATE KEY", Headers: headers, Bytes: der}); err != nil {
			return nil, fmt.Errorf("key %d: encoding as PEM: %w", i, err)
		}
	}
	return buf.Bytes(), nil
}

// GenerateSigningKey returns a new key of algorithm: RS256 (2048 bits, see
// LoadOrCreateRSAKey), ES256 (P-256) or EdDSA (Ed25519). HS256 secrets are
// not generated here: they are shared with verifiers, so they are made and
// distributed by the operator.
func GenerateSigningKey(algorithm string) (SigningKey, error) {
	switch algorithm {
	case AlgRS256:
		k, err := rsa.GenerateKey(rand.Reader, generatedRSABits)
		if err != nil {
			return SigningKey{}, fmt.Errorf("keystile: generating an RSA key: %w", err)
		}
		return NewRS256Key(k)
	case AlgES256:
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return SigningKey{}, fmt.Errorf("keystile: generating a P-256 key: %w", err)
		}
		return NewES256Key(k)
	case AlgEdDSA:
		_, k, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return SigningKey{}, fmt.Errorf("keystile: generating an Ed25519 key: %w", err)
		}
		return NewEdDSAKey(k)
	default:
		return SigningKey{}, fmt.Errorf("keystile: cannot generate %q keys; want RS256, ES256 or EdDSA", algorithm)
	}
}

// keyFileMu serialises RotateKeyFile within a process, so that two
// rotations cannot both read the old file and lose one another's key.
// Separate processes rotating the same file at once are not protected:
// rotation is an operator's command, run once at a time.
var keyFileMu sync.Mutex

// RotateKeyFile adds a new signing key to the key file at path (see
// LoadKeyFile) and returns it. The new key, of algorithm RS256, ES256 or
// EdDSA, comes first with Keystile-Created: now; the key that signed until
// then is marked Keystile-Retired: now; keys retired before now-keep are
// dropped. A missing file is created with the new key alone.
//
// keep should be at least the servers' AccessTokenTTL plus DefaultLeeway:
// a server that reloads the file (Server.SetKeys) stops trusting a dropped
// key at once, and tokens it signed may still be live.
//
// The file is replaced atomically (a new file with mode 0600 in the same
// directory, renamed over the old one), so a reader sees the old file or the
// new one, never a mix. A file that LoadKeyFile refuses is left untouched and
// the error returned: rotation never overwrites what it cannot read.
func RotateKeyFile(path, algorithm string, now time.Time, keep time.Duration) (SigningKey, error) {
	if keep < 0 {
		return SigningKey{}, errors.New("keystile: RotateKeyFile: keep must not be negative")
	}
	// Generated before taking the lock: an RSA key takes a while.
	next, err := GenerateSigningKey(algorithm)
	if err != nil {
		return SigningKey{}, err
	}
	keyFileMu.Lock()
	defer keyFileMu.Unlock()
	old, err := LoadKeyFile(path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return SigningKey{}, err
	}
	entries := []KeyFileEntry{{Key: next, Created: now}}
	cutoff := now.Add(-keep)
	for i, e := range old {
		if i == 0 {
			e.Retired = now
		}
		if !e.Retired.IsZero() && e.Retired.Before(cutoff) {
			continue
		}
		entries = append(entries, e)
	}
	if err := checkEntries(entries); err != nil {
		return SigningKey{}, fmt.Errorf("keystile: RotateKeyFile: %w", err)
	}
	data, err := encodeKeyFile(entries)
	if err != nil {
		return SigningKey{}, fmt.Errorf("keystile: RotateKeyFile: %w", err)
	}
	if err := replaceFile(path, data); err != nil {
		return SigningKey{}, err
	}
	return next, nil
}

// replaceFile writes data to path atomically with mode 0600: a temporary
// file in the same directory (same file system, so rename is atomic),
// synced, then renamed over path, then the directory synced.
func replaceFile(path string, data []byte) error {
	dir := filepath.Dir(path)
	// CreateTemp opens with O_EXCL and mode 0600.
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("keystile: creating the new key file: %w", err)
	}
	tmpName := tmp.Name()
	installed := false
	defer func() {
		if !installed {
			os.Remove(tmpName)
		}
	}()
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("keystile: writing the new key file: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("keystile: syncing the new key file: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("keystile: closing the new key file: %w", err)
	}
	if err := os.Rename(tmpName, path); err != nil {
		return fmt.Errorf("keystile: installing the new key file: %w", err)
	}
	installed = true
	if d, err := os.Open(dir); err == nil {
		// Make the rename durable; some file systems refuse to sync a
		// directory, which is not worth failing a rotation for.
		_ = d.Sync()
		d.Close()
	}
	return nil
}
