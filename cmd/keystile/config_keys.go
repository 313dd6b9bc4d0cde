package main

import (
	"bytes"
	"os"
	"time"

	"github.com/keystile/keystile/internal/storekeys"
)

// Keys in the store (internal/storekeys): with RS256, ES256 or EdDSA, a
// sqlite or postgres store and no signing.key_file, the replicas sharing
// the store share their signing keys through it.
const (
	defaultRotateEvery = 30 * 24 * time.Hour
	maxRotateEvery     = 365 * 24 * time.Hour
	defaultKeyRefresh  = 30 * time.Second
	maxKeyRefresh      = 10 * time.Minute
	maxPrepublish      = 24 * time.Hour
	// jwksCachePeriod is how long the JWKS says it may be cached (its
	// Cache-Control max-age): a remote verifier may not see a new key
	// sooner, so a key is published at least this long before it signs.
	jwksCachePeriod = 5 * time.Minute
)

// envKeyEncryptionSecret holds the key-encryption secret itself; it wins
// over signing.key_encryption_secret_file, as KEYSTILE_SIGNING_SECRET does.
const envKeyEncryptionSecret = "KEYSTILE_SIGNING_KEY_ENCRYPTION_SECRET"

// storeKeySettings are the settings of keys kept in the store.
type storeKeySettings struct {
	RotateEvery time.Duration // 0: only `keystile rotate-key` rotates
	Prepublish  time.Duration
	Refresh     time.Duration
	Secret      []byte // the key-encryption secret; nil: keys are kept unencrypted
}

// keysInStore decides where asymmetric keys live: in the file named by
// signing.key_file, or, when none is named, in a shared (sqlite or
// postgres) store. An existing file at the old default place is kept, so
// that an upgrade does not change a deployment's keys behind its back.
func (c *checker) keysInStore(s *settings, sc signingConfig) bool {
	if sc.KeyFile != "" || (s.Store.Kind != "sqlite" && s.Store.Kind != "postgres") {
		return false
	}
	_, err := os.Stat(c.resolve(defaultKeyFile))
	return err != nil
}

// checkStoreKeys reads the settings of keys in the store; with keys in a
// file, it refuses them, so that nobody believes a file's keys rotate.
func (c *checker) checkStoreKeys(s *settings, sc signingConfig, envSecret string, fromEnv map[string]bool) {
	if !s.KeysInStore {
		for _, set := range []struct{ key, value string }{
			{"signing.rotate_every", sc.RotateEvery}, {"signing.prepublish", sc.Prepublish},
			{"signing.refresh_every", sc.RefreshEvery}, {"signing.key_encryption_secret_file", sc.KeyEncryptionSecretFile},
			{envKeyEncryptionSecret, envSecret},
		} {
			if set.value != "" {
				c.addf("%s applies only to signing keys kept in the store (RS256, ES256 or EdDSA, a sqlite or postgres store, and no signing.key_file)", set.key)
			}
		}
		return
	}
	k := &s.StoreKeys
	if sc.RotateEvery == "off" {
		k.RotateEvery = 0
	} else {
		k.RotateEvery = c.duration(name("signing.rotate_every", "KEYSTILE_SIGNING_ROTATE_EVERY", fromEnv), sc.RotateEvery, defaultRotateEvery, maxRotateEvery)
	}
	k.Refresh = c.duration(name("signing.refresh_every", "KEYSTILE_SIGNING_REFRESH_EVERY", fromEnv), sc.RefreshEvery, defaultKeyRefresh, maxKeyRefresh)
	// By default a new key is in every replica's JWKS for a whole cache
	// period before any replica signs with it.
	k.Prepublish = c.duration(name("signing.prepublish", "KEYSTILE_SIGNING_PREPUBLISH", fromEnv), sc.Prepublish, jwksCachePeriod+2*k.Refresh, maxPrepublish)

	secret := []byte(envSecret)
	if envSecret == "" && sc.KeyEncryptionSecretFile != "" {
		b, err := readBounded(c.resolve(sc.KeyEncryptionSecretFile))
		if err != nil {
			c.addf("%s: %v", name("signing.key_encryption_secret_file", "KEYSTILE_SIGNING_KEY_ENCRYPTION_SECRET_FILE", fromEnv), err)
			return
		}
		secret = bytes.TrimRight(b, "\r\n")
	}
	if len(secret) > 0 && len(secret) < storekeys.MinSecretBytes {
		c.addf("the key-encryption secret is %d bytes, too weak; use at least %d random bytes (e.g. head -c 48 /dev/urandom | base64)", len(secret), storekeys.MinSecretBytes)
		return
	}
	k.Secret = secret
}

// prepublishShort reports a pre-publication shorter than a JWKS cache
// period plus a refresh: a remote verifier may then meet the new key's
// tokens before it has seen the key. Allowed (tests, or verifiers known to
// refetch on an unknown kid), but said at start.
func (k storeKeySettings) prepublishShort() bool {
	return k.Prepublish < jwksCachePeriod+k.Refresh
}
