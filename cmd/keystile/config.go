package main

import (
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/keystile/keystile"
)

// fileConfig is the configuration file, key for key (the README's
// configuration reference; docs/design.md, "The binary"). Durations are Go duration strings ("15m").
type fileConfig struct {
	Issuer      string         `yaml:"issuer"`
	Audience    string         `yaml:"audience"`
	Listen      string         `yaml:"listen"`
	Store       string         `yaml:"store"`
	Signing     signingConfig  `yaml:"signing"`
	Tokens      tokensConfig   `yaml:"tokens"`
	UsersFile   string         `yaml:"users_file"`
	PIDFile     string         `yaml:"pid_file"` // serve writes its pid there; reload reads it
	LogLevel    string         `yaml:"log_level"`
	LogFlush    string         `yaml:"log_flush"` // how long request lines may wait (logWriter); "off": none
	ProductName string         `yaml:"product_name"`
	Clients     []clientConfig `yaml:"clients"`
	// The APIs and the capability graph (config_resources.go).
	Resources    []resourceConfig   `yaml:"resources"`
	Capabilities capabilitiesConfig `yaml:"capabilities"`
	// The look of the sign-in pages (branding.go).
	Branding     brandingConfig `yaml:"branding"`
	TemplatesDir string         `yaml:"templates_dir"`
	// TrustedProxies are the reverse proxies whose X-Forwarded-For is
	// believed (CIDR prefixes or single addresses).
	TrustedProxies []string `yaml:"trusted_proxies"`
	// DrainDelay is how long /readyz answers 503 after SIGTERM before the
	// listener closes (health.go).
	DrainDelay string `yaml:"drain_delay"`
	// MetricsListen is where Prometheus metrics are served (metrics.go);
	// empty serves none.
	MetricsListen string `yaml:"metrics_listen"`
	// LoginThrottle bounds failed sign-ins (keystile.LoginThrottle).
	LoginThrottle loginThrottleConfig `yaml:"login_throttle"`
}

// loginThrottleConfig is login_throttle:. Every field is a string, as the
// environment gives it; empty is the library's default.
type loginThrottleConfig struct {
	Attempts       string `yaml:"attempts"`         // failures per account before back-off; 5
	MaxDelay       string `yaml:"max_delay"`        // the longest back-off; 15m
	DailyLimit     string `yaml:"daily_limit"`      // failures per account per day; 100
	PerAddress     string `yaml:"per_address"`      // failures per client address per minute; 60
	KnownDeviceTTL string `yaml:"known_device_ttl"` // a signed-in browser's own budget; 720h, or off
}

type signingConfig struct {
	Algorithm  string `yaml:"algorithm"`   // RS256 | ES256 | EdDSA | HS256
	KeyFile    string `yaml:"key_file"`    // private key file (package keyfile), created if missing
	SecretFile string `yaml:"secret_file"` // HS256 secret, at least 32 bytes
	// IDTokenKeyFile is the RSA key that signs OpenID Connect ID tokens,
	// created if missing. HS256 needs it as soon as a client may request
	// openid (relying parties cannot verify HS256); it then defaults to
	// keystile-id-token.pem. With RS256, ES256 or EdDSA the signing key
	// signs ID tokens unless this is set.
	IDTokenKeyFile string `yaml:"id_token_key_file"`
	// Keys kept in the store (config_keys.go): with no key_file.
	RotateEvery             string `yaml:"rotate_every"`  // "off" or a duration; default 720h
	Prepublish              string `yaml:"prepublish"`    // default 5m + 2 × refresh_every
	RefreshEvery            string `yaml:"refresh_every"` // how often replicas re-read the keys
	KeyEncryptionSecretFile string `yaml:"key_encryption_secret_file"`
}

type tokensConfig struct {
	AccessTTL      string `yaml:"access_ttl"`
	CodeTTL        string `yaml:"code_ttl"`
	LoginTTL       string `yaml:"login_ttl"`        // a pending /authorize waits this long for the login form
	SessionTTL     string `yaml:"session_ttl"`      // single sign-on; "off" turns it off
	RefreshIdleTTL string `yaml:"refresh_idle_ttl"` // an unused refresh token
	RefreshMaxTTL  string `yaml:"refresh_max_ttl"`  // a refresh-token family, however often used
	DeviceCodeTTL  string `yaml:"device_code_ttl"`  // a device authorization waits this long for the user
}

type clientConfig struct {
	ID                     string         `yaml:"id"`
	Name                   string         `yaml:"name"`
	Public                 bool           `yaml:"public"`
	SecretHash             string         `yaml:"secret_hash"`
	RedirectURIs           []string       `yaml:"redirect_uris"`
	PostLogoutRedirectURIs []string       `yaml:"post_logout_redirect_uris"`
	AllowedOrigins         []string       `yaml:"allowed_origins"`
	Scopes                 []string       `yaml:"scopes"`
	GrantTypes             []string       `yaml:"grant_types"`
	Claims                 map[string]any `yaml:"claims"`
	Resources              []string       `yaml:"resources"`
}

// Defaults for settings the file and the environment leave empty.
const (
	defaultListen    = "127.0.0.1:9000"
	defaultStore     = "sqlite:keystile.db"
	defaultAlgorithm = "RS256"
	defaultKeyFile   = "keystile-signing.pem"
	maxAccessTTL     = 24 * time.Hour
	// RFC 6749 §4.1.2: "A maximum authorization code lifetime of 10 minutes
	// is RECOMMENDED."
	maxCodeTTL    = 10 * time.Minute
	maxLoginTTL   = time.Hour
	maxSessionTTL = 30 * 24 * time.Hour
	maxRefreshTTL = 365 * 24 * time.Hour
	maxDrainDelay = 5 * time.Minute
	// Request lines wait this long at most to be written together; a
	// crash loses at most this much of the access log (docs/service.md).
	defaultLogFlush = 100 * time.Millisecond
	maxLogFlush     = 10 * time.Second
	// maxConfigFile bounds every file the configuration names.
	maxConfigFile = 4 << 20
)

// settings is the configuration after the environment is applied, paths are
// resolved and every value is checked: what serve needs to start.
type settings struct {
	Issuer      string
	Audience    string
	Listen      string
	Store       storeSpec
	Algorithm   string // "RS256", "ES256", "EdDSA" or "HS256"
	KeyFile     string // not HS256 nor KeysInStore: absolute path of the PEM key file
	KeysInStore bool   // the asymmetric keys live in the store (config_keys.go)
	StoreKeys   storeKeySettings
	HS256Secret []byte // HS256: the secret itself
	SecretFile  string // HS256: the file it came from, or "" (from the environment)
	AccessTTL   time.Duration
	CodeTTL     time.Duration
	// DeviceCodeTTL: zero leaves the library's default.
	DeviceCodeTTL time.Duration
	// Zero leaves the library's default; SessionTTL < 0 turns single
	// sign-on off.
	LoginTTL       time.Duration
	SessionTTL     time.Duration
	RefreshIdleTTL time.Duration
	RefreshMaxTTL  time.Duration
	UsersFile      string // absolute path, or "" when there is none
	PIDFile        string // absolute path, or "" when there is none
	Users          *userDB
	Clients        []keystile.Client
	Resources      []keystile.Resource
	Capabilities   keystile.Capabilities
	LogLevel       slog.Level
	LogFlush       time.Duration // 0: each request line is written at once
	Branding       keystile.Branding
	Templates      fs.FS // the templates_dir, or nil
	TemplatesDir   string
	LogoFile       string
	TrustedProxies []netip.Prefix
	DrainDelay     time.Duration
	MetricsListen  string
	LoginThrottle  keystile.LoginThrottle // zero fields: the library's defaults

	// IDTokenKeyFile is the absolute path of the RSA key that signs ID
	// tokens, or "" when the signing key signs them.
	IDTokenKeyFile string

	// Warnings are what loads but deserves the operator's attention; serve
	// logs them at start and check prints them.
	Warnings []string
}

// configError lists every problem found in a configuration, one per line.
type configError struct {
	file     string
	problems []string
}

func (e *configError) Error() string {
	if len(e.problems) == 1 {
		return "configuration " + e.file + ": " + e.problems[0]
	}
	return fmt.Sprintf("configuration %s has %d problems:\n  %s", e.file, len(e.problems), strings.Join(e.problems, "\n  "))
}

// loadConfig reads the configuration file at path, applies the KEYSTILE_*
// variables that getenv returns, and checks everything, reading the users
// file and the HS256 secret. The error lists every problem it found.
func loadConfig(path string, getenv func(string) string) (*settings, error) {
	return loadConfigListen(path, getenv, "")
}

// loadConfigListen is loadConfig with serve's --listen flag, which wins over
// the file and the environment and is checked like them.
func loadConfigListen(path string, getenv func(string) string, listenFlag string) (*settings, error) {
	raw, err := readBounded(path)
	if err != nil {
		return nil, fmt.Errorf("reading the configuration: %w", err)
	}
	fc, keyProblems, err := decodeConfig(raw)
	if err != nil {
		return nil, &configError{file: path, problems: []string{err.Error()}}
	}
	absPath, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("resolving %s: %w", path, err)
	}
	// An unknown or mistyped key is one problem among the others, not a
	// reason to stop looking: the rest of the file decoded.
	c := &checker{dir: filepath.Dir(absPath), problems: keyProblems}
	fromEnv := c.applyEnv(&fc, getenv)
	if v := getenv(envTrustedProxies); v != "" {
		fc.TrustedProxies = strings.Split(v, ",")
		fromEnv[envTrustedProxies] = true
	}
	c.listenKey = name("listen", "KEYSTILE_LISTEN", fromEnv)
	if listenFlag != "" {
		fc.Listen, c.listenKey = listenFlag, "--listen"
	}
	s := c.check(fc, getenv(envSigningSecret), fromEnv)
	c.checkStoreKeys(s, fc.Signing, getenv(envKeyEncryptionSecret), fromEnv)
	s.TrustedProxies = c.trustedProxies(fc.TrustedProxies, name("trusted_proxies", envTrustedProxies, fromEnv))
	c.checkExposure(s)
	if len(c.problems) > 0 {
		return nil, &configError{file: path, problems: c.problems}
	}
	s.Warnings = c.warnings
	return s, nil
}

// readBounded reads a file the configuration names, refusing huge ones.
func readBounded(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxConfigFile+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	if len(b) > maxConfigFile {
		return nil, fmt.Errorf("%s is larger than %d bytes", path, maxConfigFile)
	}
	return b, nil
}
