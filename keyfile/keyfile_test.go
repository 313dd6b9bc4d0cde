package keyfile

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keystile/keystile"
	"github.com/keystile/keystile/store/memory"
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

func TestRotate(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "signing.pem")
	t0 := testNow
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
		{"the first rotation creates the file", keystile.AlgEdDSA, t0,
			[]want{{"the first rotation creates the file", t0, time.Time{}}}},
		{"the second puts its key first and retires the first", keystile.AlgES256, t0.Add(10 * time.Minute),
			[]want{
				{"the second puts its key first and retires the first", t0.Add(10 * time.Minute), time.Time{}},
				{"the first rotation creates the file", t0, t0.Add(10 * time.Minute)},
			}},
		{"the third drops the key retired more than keep ago", keystile.AlgRS256, t0.Add(2 * time.Hour),
			[]want{
				{"the third drops the key retired more than keep ago", t0.Add(2 * time.Hour), time.Time{}},
				{"the second puts its key first and retires the first", t0.Add(10 * time.Minute), t0.Add(2 * time.Hour)},
			}},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			k, err := Rotate(path, st.alg, st.at, keep)
			if err != nil {
				t.Fatalf("Rotate: %v", err)
			}
			if k.Algorithm() != st.alg {
				t.Errorf("new key is %s, want %s", k.Algorithm(), st.alg)
			}
			kids[st.name] = k.KeyID()
			assertMode0600(t, path)
			assertNoTempFiles(t, dir, "signing.pem")

			entries, err := read(path)
			if err != nil {
				t.Fatalf("read: %v", err)
			}
			if len(entries) != len(st.want) {
				t.Fatalf("file holds %d keys, want %d", len(entries), len(st.want))
			}
			blocks := keyFileBlocks(t, path)
			for i, w := range st.want {
				e := entries[i]
				if e.key.KeyID() != kids[w.step] || !e.created.Equal(w.created) || !e.retired.Equal(w.retired) {
					t.Errorf("key %d: kid %s created %v retired %v; want the key of %q, created %v, retired %v",
						i, e.key.KeyID(), e.created, e.retired, w.step, w.created, w.retired)
				}
				// On disk: PKCS #8, the headers in RFC 3339 UTC, no
				// Retired header on the signing key.
				b := blocks[i]
				if b.Type != "PRIVATE KEY" || b.Headers[headerCreated] != w.created.UTC().Format(time.RFC3339) {
					t.Errorf("block %d: type %q headers %v", i, b.Type, b.Headers)
				}
				if r, ok := b.Headers[headerRetired]; ok != !w.retired.IsZero() || (ok && r != w.retired.UTC().Format(time.RFC3339)) {
					t.Errorf("block %d: Keystile-Retired %q (present %v), want %v", i, r, ok, w.retired)
				}
			}
			if entries[0].key.KeyID() != k.KeyID() {
				t.Errorf("the returned key %s is not the file's first key %s", k.KeyID(), entries[0].key.KeyID())
			}
		})
	}

}

// TestLoadKeyFileReadsOldFiles: files without headers, as written by
// older versions of Keystile or by openssl, load as one signing key and can be
// rotated.
func TestReadsOldFiles(t *testing.T) {
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
		{"PKCS #8 without headers", func(t *testing.T, path string) string {
			writePEM(t, path, 0o600, pkcs8Block(t, testRSA1(), nil))
			sk, err := keystile.NewSigningKey(testRSA1())
			return mustKey(t, sk, err).KeyID()
		}},
		{"PKCS #1", func(t *testing.T, path string) string {
			writePEM(t, path, 0o644, &pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(testRSA2())})
			sk, err := keystile.NewSigningKey(testRSA2())
			return mustKey(t, sk, err).KeyID()
		}},
		{"SEC 1 EC key", func(t *testing.T, path string) string {
			writePEM(t, path, 0o640, &pem.Block{Type: "EC PRIVATE KEY", Bytes: sec1})
			sk, err := keystile.NewSigningKey(ec)
			return mustKey(t, sk, err).KeyID()
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "key.pem")
			kid := tt.write(t, path)
			entries, err := read(path)
			if err != nil {
				t.Fatalf("read: %v", err)
			}
			if len(entries) != 1 || entries[0].key.KeyID() != kid || !entries[0].created.IsZero() || !entries[0].retired.IsZero() {
				t.Fatalf("entries = %+v, want the one key %s with no dates", entries, kid)
			}
			next, err := Rotate(path, keystile.AlgEdDSA, testNow, time.Hour)
			if err != nil {
				t.Fatalf("Rotate: %v", err)
			}
			entries, err = read(path)
			if err != nil {
				t.Fatal(err)
			}
			if got, want := kidsOfEntries(entries), []string{next.KeyID(), kid}; !slices.Equal(got, want) {
				t.Errorf("after rotation the file holds %v, want %v", got, want)
			}
			if !entries[1].retired.Equal(testNow) {
				t.Errorf("the old key is retired at %v, want %v", entries[1].retired, testNow)
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

func kidsOfEntries(entries []entry) []string {
	var kids []string
	for _, e := range entries {
		kids = append(kids, e.key.KeyID())
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
	good := pkcs8Block(t, testEd(), map[string]string{headerCreated: "2030-01-01T00:00:00Z"})
	other := pkcs8Block(t, testEC(), map[string]string{headerRetired: "2030-01-01T00:00:00Z"})
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
		{"a bad Created time", pemText(t, pkcs8Block(t, testEd(), map[string]string{headerCreated: "yesterday"})), headerCreated},
		{"a time no RFC 3339 writer can repeat", pemText(t, pkcs8Block(t, testEd(), map[string]string{headerCreated: "0000-01-01T00:00:00+01:00"})), headerCreated},
		{"a bad Retired time", goodText + pemText(t, pkcs8Block(t, testEC(), map[string]string{headerRetired: "2030-13-01T00:00:00Z"})), headerRetired},
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
			if _, err := read(path); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("read error = %v, want one mentioning %q", err, tt.want)
			}
			if _, err := Rotate(path, keystile.AlgEdDSA, testNow, time.Hour); err == nil {
				t.Error("Rotate rotated a file it cannot read")
			}
			after, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if string(after) != tt.content {
				t.Error("Rotate overwrote a file it cannot read")
			}
			assertNoTempFiles(t, dir, "signing.pem")
		})
	}
}

func TestRotateRefusals(t *testing.T) {
	tests := []struct {
		name, alg string
		keep      time.Duration
	}{
		{"HS256 (a shared secret is not generated here)", keystile.AlgHS256, time.Hour},
		{"none", "none", time.Hour},
		{"an empty algorithm", "", time.Hour},
		{"a lower-case algorithm", "es256", time.Hour},
		{"a negative keep", keystile.AlgEdDSA, -time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "signing.pem")
			if _, err := Rotate(path, tt.alg, testNow, tt.keep); err == nil {
				t.Fatal("Rotate accepted it")
			}
			assertNoTempFiles(t, dir)
		})
	}
}

func TestRotateConcurrently(t *testing.T) {
	const n = 6
	path := filepath.Join(t.TempDir(), "signing.pem")
	first, err := Rotate(path, keystile.AlgEdDSA, testNow, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	start := make(chan struct{})
	var wg sync.WaitGroup
	made := make(chan keystile.SigningKey, n)
	for range n {
		wg.Go(func() {
			<-start
			k, err := Rotate(path, keystile.AlgES256, testNow.Add(time.Minute), time.Hour)
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
	entries, err := read(path)
	if err != nil {
		t.Fatal(err)
	}
	got := kidsOfEntries(entries)
	if !slices.Equal(slices.Sorted(slices.Values(got)), slices.Sorted(slices.Values(want))) {
		t.Errorf("after %d concurrent rotations the file holds %v, want every key made: %v", n, got, want)
	}
	for i, e := range entries {
		if (i == 0) != e.retired.IsZero() {
			t.Errorf("key %d: retired %v; exactly the first key must be unretired", i, e.retired)
		}
	}
}

// TestServerStartsAndReloadsFromTheFile is what the binary does: start a
// server from the keys of the file, rotate the file, and reload it into the
// running server; the JWKS follows, and drops the old key once its tokens
// have expired.
func TestServerStartsAndReloadsFromTheFile(t *testing.T) {
	const ttl = 10 * time.Minute
	path := filepath.Join(t.TempDir(), "signing.pem")
	old, err := Rotate(path, keystile.AlgES256, testNow.Add(-24*time.Hour), 0)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	now := testNow
	srv, err := keystile.New(keystile.Config{
		Issuer:         "https://auth.example.com",
		Store:          memory.New(),
		Keys:           keys,
		AccessTokenTTL: ttl,
		ValidateUser: func(context.Context, string, string) (keystile.Identity, error) {
			return keystile.Identity{}, keystile.ErrInvalidCredentials
		},
		Now: func() time.Time { return now },
	})
	if err != nil {
		t.Fatalf("New with the file's keys: %v", err)
	}
	hs := httptest.NewServer(srv.Handler())
	defer hs.Close()
	if got, want := jwksKids(t, hs.URL), []string{old.KeyID()}; !slices.Equal(got, want) {
		t.Fatalf("JWKS at start lists %v, want %v", got, want)
	}

	now = now.Add(time.Minute)
	rotatedAt := now
	next, err := Rotate(path, keystile.AlgEdDSA, rotatedAt, ttl+keystile.DefaultLeeway)
	if err != nil {
		t.Fatal(err)
	}
	for range 2 { // the second reload of the same file changes nothing
		keys, err := Load(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := srv.SetKeys(keys); err != nil {
			t.Fatalf("SetKeys after rotation: %v", err)
		}
		if got, want := jwksKids(t, hs.URL), []string{next.KeyID(), old.KeyID()}; !slices.Equal(got, want) {
			t.Fatalf("JWKS after the reload lists %v, want %v", got, want)
		}
	}
	now = rotatedAt.Add(ttl + keystile.DefaultLeeway)
	if got, want := jwksKids(t, hs.URL), []string{next.KeyID()}; !slices.Equal(got, want) {
		t.Errorf("JWKS after the old key's tokens expired lists %v, want %v", got, want)
	}
}

// jwksKids returns the kids the server's JWKS publishes, in order.
func jwksKids(t *testing.T, base string) []string {
	t.Helper()
	resp, err := http.Get(base + "/.well-known/jwks.json")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var set struct {
		Keys []struct {
			Kid string `json:"kid"`
		} `json:"keys"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&set); err != nil {
		t.Fatal(err)
	}
	var kids []string
	for _, k := range set.Keys {
		kids = append(kids, k.Kid)
	}
	return kids
}

// testNow is the fixed clock of these tests.
var testNow = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

// Key generation is the slow part of these tests; each key is made once.
var (
	testRSA1 = sync.OnceValue(func() *rsa.PrivateKey { return mustRSA() })
	testRSA2 = sync.OnceValue(func() *rsa.PrivateKey { return mustRSA() })
	testEC   = sync.OnceValue(func() *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			panic(err)
		}
		return k
	})
	testEd = sync.OnceValue(func() ed25519.PrivateKey {
		_, k, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			panic(err)
		}
		return k
	})
)

func mustRSA() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
}

func mustKey(t testing.TB, k keystile.SigningKey, err error) keystile.SigningKey {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	return k
}
func FuzzParse(f *testing.F) {
	ed := pkcs8Block(f, testEd(), map[string]string{headerCreated: "2030-01-01T00:00:00Z"})
	ec := pkcs8Block(f, testEC(), map[string]string{headerCreated: "2029-01-01T00:00:00+02:00", headerRetired: "2030-01-01T00:00:00.5Z"})
	f.Add([]byte(pemText(f, ed, ec)))
	f.Add([]byte(pemText(f, ed)))
	f.Add([]byte(pemText(f, &pem.Block{Type: "EC PRIVATE KEY", Bytes: []byte{0x30, 0x03, 0x02, 0x01, 0x01}})))
	f.Add([]byte("-----BEGIN PRIVATE KEY-----\nKeystile-Created: x\n\nAAAA\n-----END PRIVATE KEY-----\n"))
	f.Add([]byte("garbage"))
	f.Fuzz(func(t *testing.T, data []byte) {
		entries, err := parse(data)
		if err != nil {
			return
		}
		// What parses is a usable ring, and survives a write and a read.
		if err := keystile.CheckKeys(keysOf(entries)); err != nil {
			t.Fatalf("parsed entries a server refuses: %v", err)
		}
		out, err := encode(entries)
		if err != nil {
			t.Fatalf("cannot write what was read: %v", err)
		}
		again, err := parse(out)
		if err != nil {
			t.Fatalf("cannot read what was written: %v", err)
		}
		if len(again) != len(entries) {
			t.Fatalf("round trip: %d keys, then %d", len(entries), len(again))
		}
		for i := range entries {
			a, b := entries[i], again[i]
			if a.key.KeyID() != b.key.KeyID() || !a.created.Truncate(time.Second).Equal(b.created) || !a.retired.Truncate(time.Second).Equal(b.retired) {
				t.Fatalf("round trip changed key %d: %+v / %+v", i, a, b)
			}
		}
	})
}

func TestLoadOrCreate(t *testing.T) {
	pkcs1 := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(testRSA1())})
	pkcs8DER, err := x509.MarshalPKCS8PrivateKey(testRSA1())
	if err != nil {
		t.Fatal(err)
	}
	pkcs8 := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8DER})
	rsaKey, err := keystile.NewSigningKey(testRSA1())
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		content []byte // written to the file first; nil means no file
		wantErr bool
		wantKid string // "": any new key
	}{
		{"missing file is created", nil, false, ""},
		{"PKCS #8", pkcs8, false, rsaKey.KeyID()},
		{"PKCS #1", pkcs1, false, rsaKey.KeyID()},
		{"empty file", []byte{}, true, ""},
		{"not PEM", []byte("hello"), true, ""},
		{"public key block", pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: []byte{1, 2}}), true, ""},
		{"corrupt PKCS #1", pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: []byte{1, 2, 3}}), true, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "signing.pem")
			if tt.content != nil {
				if err := os.WriteFile(path, tt.content, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			keys, created, err := LoadOrCreate(path, keystile.AlgRS256)
			if tt.wantErr {
				if err == nil {
					t.Fatal("bad key file accepted")
				}
				if before, _ := os.ReadFile(path); string(before) != string(tt.content) {
					t.Error("a bad key file was overwritten")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if created != (tt.content == nil) {
				t.Errorf("created = %v, want %v", created, tt.content == nil)
			}
			if len(keys) != 1 || keys[0].Algorithm() != keystile.AlgRS256 {
				t.Fatalf("keys = %v, want one RS256 key", keys)
			}
			if tt.wantKid != "" && keys[0].KeyID() != tt.wantKid {
				t.Fatal("loaded a different key")
			}
			if tt.content != nil {
				return
			}
			// A created key: private file, PKCS #8, same key on the next
			// start, and no temporary file left behind.
			assertMode0600(t, path)
			data, _ := os.ReadFile(path)
			if b, _ := pem.Decode(data); b == nil || b.Type != "PRIVATE KEY" {
				t.Errorf("file is not a PKCS #8 PEM: %.40q", data)
			}
			again, created, err := LoadOrCreate(path, keystile.AlgRS256)
			if err != nil || created || len(again) != 1 || again[0].KeyID() != keys[0].KeyID() {
				t.Fatalf("second start: %v, created %v, keys %v; want the same key", err, created, again)
			}
			if pub, ok := keys[0].Public().(*rsa.PublicKey); !ok || pub.N.BitLen() != 2048 {
				t.Errorf("generated %T, want a 2048-bit RSA key", keys[0].Public())
			}
			assertNoTempFiles(t, dir, "signing.pem")
		})
	}

	t.Run("missing directory", func(t *testing.T) {
		if _, _, err := LoadOrCreate(filepath.Join(t.TempDir(), "no", "such", "key.pem"), keystile.AlgRS256); err == nil {
			t.Fatal("no error for a path in a missing directory")
		}
	})
}

// TestWriteFileKeepsExisting shows why the key is linked into place
// rather than renamed: a key written concurrently by another process is
// never replaced.
func TestWriteFileKeepsExisting(t *testing.T) {
	path := filepath.Join(t.TempDir(), "key.pem")
	if err := os.WriteFile(path, []byte("first"), 0o600); err != nil {
		t.Fatal(err)
	}
	created, err := writeFile(path, []byte("second"), false)
	if err != nil || created {
		t.Fatalf("writeFile = %v, %v; want false, nil", created, err)
	}
	if got, _ := os.ReadFile(path); string(got) != "first" {
		t.Errorf("file holds %q, want the first writer's content", got)
	}
	if entries, _ := os.ReadDir(filepath.Dir(path)); len(entries) != 1 {
		t.Errorf("%d entries left in the directory, want 1", len(entries))
	}
}
