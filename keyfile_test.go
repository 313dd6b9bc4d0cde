package keystile

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// keyFileBlocks decodes the raw PEM blocks of a key file, to check what is on
// disk rather than what LoadKeyFile makes of it.
func keyFileBlocks(t *testing.T, path string) []*pem.Block {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var blocks []*pem.Block
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			return blocks
		}
		blocks = append(blocks, b)
	}
}

func assertMode0600(t *testing.T, path string) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if mode := fi.Mode().Perm(); mode != 0o600 {
		t.Errorf("%s has mode %v, want 0600", filepath.Base(path), mode)
	}
}

// assertNoTempFiles checks that nothing but the key file is in its directory.
func assertNoTempFiles(t *testing.T, dir string, want ...string) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	if !slices.Equal(names, want) {
		t.Errorf("directory holds %v, want %v (a temporary file was left behind?)", names, want)
	}
}

func TestRotateKeyFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "signing.pem")
	t0 := sigTestNow
	const keep = time.Hour
	kids := map[string]string{} // step name → kid of the key it made
	type want struct {
		step             string
		created, retired time.Time
	}
	steps := []struct {
		name, alg string
		at        time.Time
		want      []want
	}{
		{"the first rotation creates the file", AlgEdDSA, t0,
			[]want{{"the first rotation creates the file", t0, time.Time{}}}},
		{"the second puts its key first and retires the first", AlgES256, t0.Add(10 * time.Minute),
			[]want{
				{"the second puts its key first and retires the first", t0.Add(10 * time.Minute), time.Time{}},
				{"the first rotation creates the file", t0, t0.Add(10 * time.Minute)},
			}},
		{"the third drops the key retired more than keep ago", AlgRS256, t0.Add(2 * time.Hour),
			[]want{
				{"the third drops the key retired more than keep ago", t0.Add(2 * time.Hour), time.Time{}},
				{"the second puts its key first and retires the first", t0.Add(10 * time.Minute), t0.Add(2 * time.Hour)},
			}},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			k, err := RotateKeyFile(path, st.alg, st.at, keep)
			if err != nil {
				t.Fatalf("RotateKeyFile: %v", err)
			}
			if k.Algorithm() != st.alg {
				t.Errorf("new key is %s, want %s", k.Algorithm(), st.alg)
			}
			kids[st.name] = k.KeyID()
			assertMode0600(t, path)
			assertNoTempFiles(t, dir, "signing.pem")

			entries, err := LoadKeyFile(path)
			if err != nil {
				t.Fatalf("LoadKeyFile: %v", err)
			}
			if len(entries) != len(st.want) {
				t.Fatalf("file holds %d keys, want %d", len(entries), len(st.want))
			}
			blocks := keyFileBlocks(t, path)
			for i, w := range st.want {
				e := entries[i]
				if e.Key.KeyID() != kids[w.step] || !e.Created.Equal(w.created) || !e.Retired.Equal(w.retired) {
					t.Errorf("key %d: kid %s created %v retired %v; want the key of %q, created %v, retired %v",
						i, e.Key.KeyID(), e.Created, e.Retired, w.step, w.created, w.retired)
				}
				// On disk: PKCS #8, the headers in RFC 3339 UTC, no
				// Retired header on the signing key.
				b := blocks[i]
				if b.Type != "PRIVATE KEY" || b.Headers[keyFileCreated] != w.created.UTC().Format(time.RFC3339) {
					t.Errorf("block %d: type %q headers %v", i, b.Type, b.Headers)
				}
				if r, ok := b.Headers[keyFileRetired]; ok != !w.retired.IsZero() || (ok && r != w.retired.UTC().Format(time.RFC3339)) {
					t.Errorf("block %d: Keystile-Retired %q (present %v), want %v", i, r, ok, w.retired)
				}
			}
			if entries[0].Key.KeyID() != k.KeyID() {
				t.Errorf("the returned key %s is not the file's first key %s", k.KeyID(), entries[0].Key.KeyID())
			}
		})
	}

	// A binary that only knows LoadOrCreateRSAKey still reads the newest
	// key (here RS256) from a rotated file.
	rk, err := LoadOrCreateRSAKey(path)
	if err != nil {
		t.Fatalf("LoadOrCreateRSAKey on a rotated file: %v", err)
	}
	sk, err := NewRS256Key(rk)
	if err != nil || sk.KeyID() != kids[steps[2].name] {
		t.Errorf("LoadOrCreateRSAKey read key %s (%v), want the newest %s", sk.KeyID(), err, kids[steps[2].name])
	}
}

// TestLoadKeyFileReadsOldFiles: files without headers, as written by
// LoadOrCreateRSAKey or by openssl, load as one signing key and can be
// rotated.
func TestLoadKeyFileReadsOldFiles(t *testing.T) {
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	sec1, err := x509.MarshalECPrivateKey(ec)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		write func(t *testing.T, path string) string // returns the kid
	}{
		{"PKCS #8 from LoadOrCreateRSAKey", func(t *testing.T, path string) string {
			k, err := LoadOrCreateRSAKey(path)
			if err != nil {
				t.Fatal(err)
			}
			sk, err := NewRS256Key(k)
			return mustKey(t, sk, err).KeyID()
		}},
		{"PKCS #1", func(t *testing.T, path string) string {
			writePEM(t, path, 0o644, &pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(sigTestRSA2())})
			sk, err := NewRS256Key(sigTestRSA2())
			return mustKey(t, sk, err).KeyID()
		}},
		{"SEC 1 EC key", func(t *testing.T, path string) string {
			writePEM(t, path, 0o640, &pem.Block{Type: "EC PRIVATE KEY", Bytes: sec1})
			sk, err := NewES256Key(ec)
			return mustKey(t, sk, err).KeyID()
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "key.pem")
			kid := tt.write(t, path)
			entries, err := LoadKeyFile(path)
			if err != nil {
				t.Fatalf("LoadKeyFile: %v", err)
			}
			if len(entries) != 1 || entries[0].Key.KeyID() != kid || !entries[0].Created.IsZero() || !entries[0].Retired.IsZero() {
				t.Fatalf("entries = %+v, want the one key %s with no dates", entries, kid)
			}
			next, err := RotateKeyFile(path, AlgEdDSA, sigTestNow, time.Hour)
			if err != nil {
				t.Fatalf("RotateKeyFile: %v", err)
			}
			entries, err = LoadKeyFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if got, want := kidsOfEntries(entries), []string{next.KeyID(), kid}; !slices.Equal(got, want) {
				t.Errorf("after rotation the file holds %v, want %v", got, want)
			}
			if !entries[1].Retired.Equal(sigTestNow) {
				t.Errorf("the old key is retired at %v, want %v", entries[1].Retired, sigTestNow)
			}
			assertMode0600(t, path) // even if the old file was more open
		})
	}
}

func writePEM(t *testing.T, path string, mode os.FileMode, blocks ...*pem.Block) {
	t.Helper()
	var buf bytes.Buffer
	for _, b := range blocks {
		if err := pem.Encode(&buf, b); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(path, buf.Bytes(), mode); err != nil {
		t.Fatal(err)
	}
}

func kidsOfEntries(entries []KeyFileEntry) []string {
	var kids []string
	for _, e := range entries {
		kids = append(kids, e.Key.KeyID())
	}
	return kids
}

// pkcs8Block is a key file block for key with headers.
func pkcs8Block(t testing.TB, key any, headers map[string]string) *pem.Block {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return &pem.Block{Type: "PRIVATE KEY", Headers: headers, Bytes: der}
}

func pemText(t testing.TB, blocks ...*pem.Block) string {
	t.Helper()
	var buf bytes.Buffer
	for _, b := range blocks {
		if err := pem.Encode(&buf, b); err != nil {
			t.Fatal(err)
		}
	}
	return buf.String()
}

func TestKeyFileRefusesWhatItCannotRead(t *testing.T) {
	good := pkcs8Block(t, sigTestEd(), map[string]string{keyFileCreated: "2030-01-01T00:00:00Z"})
	other := pkcs8Block(t, sigTestEC(), map[string]string{keyFileRetired: "2030-01-01T00:00:00Z"})
	goodText := pemText(t, good)
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	weak, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, content, want string
	}{
		{"an empty file", "", "no PEM"},
		{"not PEM", "hello, world\n", "no PEM"},
		{"a truncated key", goodText[:len(goodText)/2], "no PEM"},
		{"a truncated second key", goodText + pemText(t, other)[:60], "malformed"},
		{"a damaged key between good ones", goodText + "-----BEGIN PRIVATE KEY-----\n!!!!\n-----END PRIVATE KEY-----\n" + pemText(t, other), "malformed"},
		{"text after the last key", goodText + "garbage\n", "text after"},
		{"a bad Created time", pemText(t, pkcs8Block(t, sigTestEd(), map[string]string{keyFileCreated: "yesterday"})), keyFileCreated},
		{"a time no RFC 3339 writer can repeat", pemText(t, pkcs8Block(t, sigTestEd(), map[string]string{keyFileCreated: "0000-01-01T00:00:00+01:00"})), keyFileCreated},
		{"a bad Retired time", goodText + pemText(t, pkcs8Block(t, sigTestEC(), map[string]string{keyFileRetired: "2030-13-01T00:00:00Z"})), keyFileRetired},
		{"a retired first key", pemText(t, other, good), "first key"},
		{"the same key twice", pemText(t, good, good), "repeats"},
		{"an encrypted key", pemText(t, &pem.Block{Type: "RSA PRIVATE KEY", Headers: map[string]string{"Proc-Type": "4,ENCRYPTED", "DEK-Info": "AES-128-CBC,00112233445566778899AABBCCDDEEFF"}, Bytes: []byte("0123456789abcdef")}), "encrypted"},
		{"a certificate", pemText(t, &pem.Block{Type: "CERTIFICATE", Bytes: []byte("not really")}), "CERTIFICATE"},
		{"bad DER", pemText(t, &pem.Block{Type: "PRIVATE KEY", Bytes: []byte("not DER")}), "parsing"},
		{"a weak RSA key", pemText(t, &pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(weak)}), "1024 bits"},
		{"a P-384 key", pemText(t, pkcs8Block(t, p384, nil)), "P-256"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "signing.pem")
			if err := os.WriteFile(path, []byte(tt.content), 0o600); err != nil {
				t.Fatal(err)
			}
			if _, err := LoadKeyFile(path); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("LoadKeyFile error = %v, want one mentioning %q", err, tt.want)
			}
			if _, err := RotateKeyFile(path, AlgEdDSA, sigTestNow, time.Hour); err == nil {
				t.Error("RotateKeyFile rotated a file it cannot read")
			}
			after, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if string(after) != tt.content {
				t.Error("RotateKeyFile overwrote a file it cannot read")
			}
			assertNoTempFiles(t, dir, "signing.pem")
		})
	}
}

func TestRotateKeyFileRefusals(t *testing.T) {
	tests := []struct {
		name, alg string
		keep      time.Duration
	}{
		{"HS256 (a shared secret is not generated here)", AlgHS256, time.Hour},
		{"none", "none", time.Hour},
		{"an empty algorithm", "", time.Hour},
		{"a lower-case algorithm", "es256", time.Hour},
		{"a negative keep", AlgEdDSA, -time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "signing.pem")
			if _, err := RotateKeyFile(path, tt.alg, sigTestNow, tt.keep); err == nil {
				t.Fatal("RotateKeyFile accepted it")
			}
			assertNoTempFiles(t, dir)
		})
	}
}

func TestRotateKeyFileConcurrently(t *testing.T) {
	const n = 6
	path := filepath.Join(t.TempDir(), "signing.pem")
	first, err := RotateKeyFile(path, AlgEdDSA, sigTestNow, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	start := make(chan struct{})
	var wg sync.WaitGroup
	made := make(chan SigningKey, n)
	for range n {
		wg.Go(func() {
			<-start
			k, err := RotateKeyFile(path, AlgES256, sigTestNow.Add(time.Minute), time.Hour)
			if err != nil {
				t.Error(err)
				return
			}
			made <- k
		})
	}
	close(start)
	wg.Wait()
	close(made)
	want := []string{first.KeyID()}
	for k := range made {
		want = append(want, k.KeyID())
	}
	entries, err := LoadKeyFile(path)
	if err != nil {
		t.Fatal(err)
	}
	got := kidsOfEntries(entries)
	if !slices.Equal(slices.Sorted(slices.Values(got)), slices.Sorted(slices.Values(want))) {
		t.Errorf("after %d concurrent rotations the file holds %v, want every key made: %v", n, got, want)
	}
	for i, e := range entries {
		if (i == 0) != e.Retired.IsZero() {
			t.Errorf("key %d: retired %v; exactly the first key must be unretired", i, e.Retired)
		}
	}
}

// TestServerReloadsKeyFile is what the binary does: start from the key
// file, rotate the file, and reload it into the running server.
func TestServerReloadsKeyFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "signing.pem")
	old, err := RotateKeyFile(path, AlgES256, sigTestNow.Add(-24*time.Hour), 0)
	if err != nil {
		t.Fatal(err)
	}
	entries, err := LoadKeyFile(path)
	if err != nil {
		t.Fatal(err)
	}
	e := newRotEnv(t, entries[0].Key)
	if err := e.srv.SetKeys(entries); err != nil {
		t.Fatalf("SetKeys at start: %v", err)
	}
	oldTok := e.issue(t)
	remote := e.remoteVerifier(t)
	if _, err := remote.Verify(t.Context(), oldTok); err != nil {
		t.Fatal(err)
	}

	e.clock.Advance(time.Minute)
	rotatedAt := e.clock.Now()
	next, err := RotateKeyFile(path, AlgEdDSA, rotatedAt, rotTTL+DefaultLeeway)
	if err != nil {
		t.Fatal(err)
	}
	for range 2 { // the second reload of the same file changes nothing
		entries, err = LoadKeyFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := e.srv.SetKeys(entries); err != nil {
			t.Fatalf("SetKeys after rotation: %v", err)
		}
		if got, want := kidsOf(e.srv.SigningKeys()), []string{next.KeyID(), old.KeyID()}; !slices.Equal(got, want) {
			t.Fatalf("SigningKeys = %v, want %v", got, want)
		}
	}
	newTok := e.issue(t)
	if kidOf(t, newTok) != next.KeyID() {
		t.Errorf("tokens are signed by %s after the reload, want %s", kidOf(t, newTok), next.KeyID())
	}
	if got, want := e.jwksKids(t), []string{next.KeyID(), old.KeyID()}; !slices.Equal(got, want) {
		t.Errorf("JWKS lists %v, want %v", got, want)
	}
	e.clock.Advance(DefaultJWKSRefreshInterval)
	for name, tok := range map[string]string{"old": oldTok, "new": newTok} {
		if _, err := e.srv.Verifier().Verify(t.Context(), tok); err != nil {
			t.Errorf("in-process verifier refused the %s key's token: %v", name, err)
		}
		if _, err := remote.Verify(t.Context(), tok); err != nil {
			t.Errorf("JWKS verifier refused the %s key's token: %v", name, err)
		}
	}
	e.clock.Advance(rotatedAt.Add(rotTTL + DefaultLeeway).Sub(e.clock.Now()))
	if got, want := e.jwksKids(t), []string{next.KeyID()}; !slices.Equal(got, want) {
		t.Errorf("JWKS after the old key's tokens expired lists %v, want %v", got, want)
	}
}

func FuzzParseKeyFile(f *testing.F) {
	ed := pkcs8Block(f, sigTestEd(), map[string]string{keyFileCreated: "2030-01-01T00:00:00Z"})
	ec := pkcs8Block(f, sigTestEC(), map[string]string{keyFileCreated: "2029-01-01T00:00:00+02:00", keyFileRetired: "2030-01-01T00:00:00.5Z"})
	f.Add([]byte(pemText(f, ed, ec)))
	f.Add([]byte(pemText(f, ed)))
	f.Add([]byte(pemText(f, &pem.Block{Type: "EC PRIVATE KEY", Bytes: []byte{0x30, 0x03, 0x02, 0x01, 0x01}})))
	f.Add([]byte("-----BEGIN PRIVATE KEY-----\nKeystile-Created: x\n\nAAAA\n-----END PRIVATE KEY-----\n"))
	f.Add([]byte("garbage"))
	f.Fuzz(func(t *testing.T, data []byte) {
		entries, err := parseKeyFile(data)
		if err != nil {
			return
		}
		// What parses is a usable ring, and survives a write and a read.
		if err := checkEntries(entries); err != nil {
			t.Fatalf("parsed entries a server refuses: %v", err)
		}
		out, err := encodeKeyFile(entries)
		if err != nil {
			t.Fatalf("cannot write what was read: %v", err)
		}
		again, err := parseKeyFile(out)
		if err != nil {
			t.Fatalf("cannot read what was written: %v", err)
		}
		if len(again) != len(entries) {
			t.Fatalf("round trip: %d keys, then %d", len(entries), len(again))
		}
		for i := range entries {
			a, b := entries[i], again[i]
			if a.Key.KeyID() != b.Key.KeyID() || !a.Created.Truncate(time.Second).Equal(b.Created) || !a.Retired.Truncate(time.Second).Equal(b.Retired) {
				t.Fatalf("round trip changed key %d: %+v / %+v", i, a, b)
			}
		}
	})
}
