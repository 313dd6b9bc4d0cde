package main

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"

	"github.com/keystile/keystile"
)

// Checking signing: the access-token algorithm and key, and the ID token
// key an HS256 deployment needs.

// defaultIDTokenKeyFile is where an HS256 deployment keeps the RS256 key of
// its ID tokens.
const defaultIDTokenKeyFile = "keystile-id-token.pem"

// checkIDTokenKeyFile sets the ID token key file: the configured one, or
// for HS256, which relying parties cannot verify, the default one as soon
// as a client may request openid (keystile.New refuses HS256 and openid
// without an asymmetric Config.IDTokenKey).
func (c *checker) checkIDTokenKeyFile(s *settings, configured string, fromEnv map[string]bool) {
	path := configured
	if path == "" && s.Algorithm == keystile.AlgHS256 {
		for _, cl := range s.Clients {
			if slices.Contains(cl.Scopes, keystile.ScopeOpenID) {
				path = defaultIDTokenKeyFile
				break
			}
		}
	}
	if path == "" {
		return
	}
	s.IDTokenKeyFile = c.resolve(path)
	// A missing key is created at start, but its directory must exist.
	if st, err := os.Stat(filepath.Dir(s.IDTokenKeyFile)); err != nil || !st.IsDir() {
		c.addf("%s: directory %s does not exist", name("signing.id_token_key_file", "KEYSTILE_SIGNING_ID_TOKEN_KEY_FILE", fromEnv), filepath.Dir(s.IDTokenKeyFile))
	}
}

func (c *checker) checkSigning(s *settings, sc signingConfig, envSecret string, fromEnv map[string]bool) {
	algKey := name("signing.algorithm", "KEYSTILE_SIGNING_ALGORITHM", fromEnv)
	s.Algorithm = sc.Algorithm
	if s.Algorithm == "" {
		s.Algorithm = defaultAlgorithm
	}
	switch s.Algorithm {
	case keystile.AlgRS256, keystile.AlgES256, keystile.AlgEdDSA:
		if sc.SecretFile != "" || envSecret != "" {
			c.addf("%s is %s, but an HS256 secret is set (signing.secret_file or %s): remove one", algKey, s.Algorithm, envSigningSecret)
		}
		if s.KeysInStore = c.keysInStore(s, sc); s.KeysInStore {
			return
		}
		s.KeyFile = sc.KeyFile
		if s.KeyFile == "" {
			s.KeyFile = defaultKeyFile
		}
		s.KeyFile = c.resolve(s.KeyFile)
		// A missing key is created at start, but its directory must exist.
		if st, err := os.Stat(filepath.Dir(s.KeyFile)); err != nil || !st.IsDir() {
			c.addf("%s: directory %s does not exist", name("signing.key_file", "KEYSTILE_SIGNING_KEY_FILE", fromEnv), filepath.Dir(s.KeyFile))
		}
	case "HS256":
		if sc.KeyFile != "" {
			c.addf("%s is HS256, but signing.key_file is set: remove one", algKey)
		}
		secret := []byte(envSecret)
		switch {
		case envSecret != "":
			// The environment wins over the file (see envSigningSecret).
		case sc.SecretFile == "":
			c.addf("%s is HS256: set signing.secret_file (or %s) to a secret of at least %d random bytes", algKey, envSigningSecret, keystile.MinHS256SecretBytes)
			return
		default:
			path := c.resolve(sc.SecretFile)
			s.SecretFile = path
			b, err := readBounded(path)
			if err != nil {
				c.addf("%s: %v", name("signing.secret_file", "KEYSTILE_SIGNING_SECRET_FILE", fromEnv), err)
				return
			}
			// Editors and `echo` end files with a newline that is not part of
			// the secret.
			secret = bytes.TrimRight(b, "\r\n")
		}
		if len(secret) < keystile.MinHS256SecretBytes {
			from := "signing.secret_file"
			if envSecret != "" {
				from = envSigningSecret
			}
			c.addf("%s: the HS256 secret is %d bytes, too weak; use at least %d random bytes (e.g. head -c 48 /dev/urandom | base64)", from, len(secret), keystile.MinHS256SecretBytes)
			return
		}
		s.HS256Secret = secret
	default:
		c.addf("%s: %q is not supported (use RS256, ES256, EdDSA or HS256)", algKey, s.Algorithm)
	}
}
