package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"maps"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/keystile/keystile"
	"github.com/keystile/keystile/internal/check"
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

// envOverride is one KEYSTILE_* variable that replaces a scalar setting of
// the file. A path from the environment is relative to the working directory,
// where the operator typed it, not to the configuration file.
type envOverride struct {
	name  string
	field func(*fileConfig) *string
	abs   func(string) string // for paths: makes them absolute
}

var envOverrides = []envOverride{
	{"KEYSTILE_ISSUER", func(c *fileConfig) *string { return &c.Issuer }, nil},
	{"KEYSTILE_AUDIENCE", func(c *fileConfig) *string { return &c.Audience }, nil},
	{"KEYSTILE_LISTEN", func(c *fileConfig) *string { return &c.Listen }, nil},
	{"KEYSTILE_STORE", func(c *fileConfig) *string { return &c.Store }, storeFromWorkingDir},
	{"KEYSTILE_SIGNING_ALGORITHM", func(c *fileConfig) *string { return &c.Signing.Algorithm }, nil},
	{"KEYSTILE_SIGNING_KEY_FILE", func(c *fileConfig) *string { return &c.Signing.KeyFile }, fileFromWorkingDir},
	{"KEYSTILE_SIGNING_SECRET_FILE", func(c *fileConfig) *string { return &c.Signing.SecretFile }, fileFromWorkingDir},
	{"KEYSTILE_SIGNING_ID_TOKEN_KEY_FILE", func(c *fileConfig) *string { return &c.Signing.IDTokenKeyFile }, fileFromWorkingDir},
	{"KEYSTILE_SIGNING_ROTATE_EVERY", func(c *fileConfig) *string { return &c.Signing.RotateEvery }, nil},
	{"KEYSTILE_SIGNING_PREPUBLISH", func(c *fileConfig) *string { return &c.Signing.Prepublish }, nil},
	{"KEYSTILE_SIGNING_REFRESH_EVERY", func(c *fileConfig) *string { return &c.Signing.RefreshEvery }, nil},
	{"KEYSTILE_SIGNING_KEY_ENCRYPTION_SECRET_FILE", func(c *fileConfig) *string { return &c.Signing.KeyEncryptionSecretFile }, fileFromWorkingDir},
	{"KEYSTILE_TOKENS_ACCESS_TTL", func(c *fileConfig) *string { return &c.Tokens.AccessTTL }, nil},
	{"KEYSTILE_TOKENS_CODE_TTL", func(c *fileConfig) *string { return &c.Tokens.CodeTTL }, nil},
	{"KEYSTILE_TOKENS_LOGIN_TTL", func(c *fileConfig) *string { return &c.Tokens.LoginTTL }, nil},
	{"KEYSTILE_TOKENS_SESSION_TTL", func(c *fileConfig) *string { return &c.Tokens.SessionTTL }, nil},
	{"KEYSTILE_TOKENS_REFRESH_IDLE_TTL", func(c *fileConfig) *string { return &c.Tokens.RefreshIdleTTL }, nil},
	{"KEYSTILE_TOKENS_REFRESH_MAX_TTL", func(c *fileConfig) *string { return &c.Tokens.RefreshMaxTTL }, nil},
	{"KEYSTILE_TOKENS_DEVICE_CODE_TTL", func(c *fileConfig) *string { return &c.Tokens.DeviceCodeTTL }, nil},
	{"KEYSTILE_USERS_FILE", func(c *fileConfig) *string { return &c.UsersFile }, fileFromWorkingDir},
	{"KEYSTILE_PID_FILE", func(c *fileConfig) *string { return &c.PIDFile }, fileFromWorkingDir},
	{"KEYSTILE_LOG_LEVEL", func(c *fileConfig) *string { return &c.LogLevel }, nil},
	{"KEYSTILE_PRODUCT_NAME", func(c *fileConfig) *string { return &c.ProductName }, nil},
	{"KEYSTILE_BRANDING_PRODUCT_NAME", func(c *fileConfig) *string { return &c.Branding.ProductName }, nil},
	{"KEYSTILE_BRANDING_LOGO_FILE", func(c *fileConfig) *string { return &c.Branding.LogoFile }, fileFromWorkingDir},
	{"KEYSTILE_BRANDING_ACCENT_COLOR", func(c *fileConfig) *string { return &c.Branding.AccentColor }, nil},
	{"KEYSTILE_TEMPLATES_DIR", func(c *fileConfig) *string { return &c.TemplatesDir }, fileFromWorkingDir},
	{"KEYSTILE_LOGIN_THROTTLE_ATTEMPTS", func(c *fileConfig) *string { return &c.LoginThrottle.Attempts }, nil},
	{"KEYSTILE_LOGIN_THROTTLE_MAX_DELAY", func(c *fileConfig) *string { return &c.LoginThrottle.MaxDelay }, nil},
	{"KEYSTILE_LOGIN_THROTTLE_DAILY_LIMIT", func(c *fileConfig) *string { return &c.LoginThrottle.DailyLimit }, nil},
	{"KEYSTILE_LOGIN_THROTTLE_PER_ADDRESS", func(c *fileConfig) *string { return &c.LoginThrottle.PerAddress }, nil},
	{"KEYSTILE_LOGIN_THROTTLE_KNOWN_DEVICE_TTL", func(c *fileConfig) *string { return &c.LoginThrottle.KnownDeviceTTL }, nil},
	{"KEYSTILE_DRAIN_DELAY", func(c *fileConfig) *string { return &c.DrainDelay }, nil},
	{"KEYSTILE_METRICS_LISTEN", func(c *fileConfig) *string { return &c.MetricsListen }, nil},
}

// envTrustedProxies is a comma-separated trusted_proxies.
const envTrustedProxies = "KEYSTILE_TRUSTED_PROXIES"

// envSigningSecret holds the HS256 secret itself. It wins over
// signing.secret_file, so that a container can take it from its secret store.
const envSigningSecret = "KEYSTILE_SIGNING_SECRET"

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

// checker collects problems, one clear line each, and warnings: what
// starts but deserves a look.
type checker struct {
	dir       string // the configuration file's directory
	listenKey string // how problems name the listen setting
	problems  []string
	warnings  []string
}

func (c *checker) addf(format string, args ...any) {
	c.problems = append(c.problems, fmt.Sprintf(format, args...))
}

func (c *checker) warnf(format string, args ...any) {
	c.warnings = append(c.warnings, fmt.Sprintf(format, args...))
}

// applyEnv replaces settings with the KEYSTILE_* variables that are set,
// and reports which settings came from the environment.
func (c *checker) applyEnv(fc *fileConfig, getenv func(string) string) map[string]bool {
	fromEnv := map[string]bool{}
	for _, o := range envOverrides {
		v := getenv(o.name)
		if v == "" {
			continue
		}
		if o.abs != nil {
			v = o.abs(v)
		}
		*o.field(fc) = v
		fromEnv[o.name] = true
	}
	return fromEnv
}

// fileFromWorkingDir makes a path from the environment absolute, so that
// resolving against the configuration's directory later leaves it alone.
func fileFromWorkingDir(v string) string {
	if abs, err := filepath.Abs(v); err == nil {
		return abs
	}
	return v
}

// storeFromWorkingDir does the same for the file of a sqlite: store.
func storeFromWorkingDir(v string) string {
	if rest, ok := strings.CutPrefix(v, "sqlite:"); ok && rest != "" {
		return "sqlite:" + fileFromWorkingDir(rest)
	}
	return v
}

// resolve makes a path from the configuration file relative to its directory.
func (c *checker) resolve(p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(c.dir, p)
}

// name returns how a problem refers to a setting: its key in the file, and
// the variable if that is where the value came from.
func name(key, env string, fromEnv map[string]bool) string {
	if fromEnv[env] {
		return key + " (from " + env + ")"
	}
	return key
}

func (c *checker) check(fc fileConfig, envSecret string, fromEnv map[string]bool) *settings {
	s := &settings{
		Issuer:   fc.Issuer,
		Audience: fc.Audience,
		Listen:   fc.Listen,
	}
	if fc.ProductName != "" {
		// Config.ProductName and Branding.ProductName said the same thing
		// twice; only the branding one is left.
		c.addf("%s: moved to branding.product_name (KEYSTILE_BRANDING_PRODUCT_NAME); write it there", name("product_name", "KEYSTILE_PRODUCT_NAME", fromEnv))
	}

	// issuer: keystile.New checks it again; checking here puts the problem
	// in the same list as the others.
	if fc.Issuer == "" {
		c.addf("issuer is required (the https URL of this server, e.g. https://auth.example.com)")
	} else if _, err := check.Issuer(fc.Issuer); err != nil {
		c.addf("%s: %v", name("issuer", "KEYSTILE_ISSUER", fromEnv), err)
	}

	if s.Listen == "" {
		s.Listen = defaultListen
	}
	c.hostPort(c.listenKey, s.Listen)
	if s.MetricsListen = fc.MetricsListen; s.MetricsListen != "" {
		key := name("metrics_listen", "KEYSTILE_METRICS_LISTEN", fromEnv)
		c.hostPort(key, s.MetricsListen)
		if s.MetricsListen == s.Listen {
			c.addf("%s: %s is also listen; metrics are never served on the public listener", key, s.MetricsListen)
		}
	}

	storeRaw := fc.Store
	if storeRaw == "" {
		storeRaw = defaultStore
	}
	if spec, err := parseStoreSpec(storeRaw); err != nil {
		c.addf("%s: %v", name("store", "KEYSTILE_STORE", fromEnv), err)
	} else {
		spec.Path = c.resolve(spec.Path)
		s.Store = spec
	}

	c.checkSigning(s, fc.Signing, envSecret, fromEnv)

	s.AccessTTL = c.duration(name("tokens.access_ttl", "KEYSTILE_TOKENS_ACCESS_TTL", fromEnv), fc.Tokens.AccessTTL, keystile.DefaultAccessTokenTTL, maxAccessTTL)
	s.CodeTTL = c.duration(name("tokens.code_ttl", "KEYSTILE_TOKENS_CODE_TTL", fromEnv), fc.Tokens.CodeTTL, keystile.DefaultCodeTTL, maxCodeTTL)
	s.LoginTTL = c.duration(name("tokens.login_ttl", "KEYSTILE_TOKENS_LOGIN_TTL", fromEnv), fc.Tokens.LoginTTL, 0, maxLoginTTL)
	if fc.Tokens.SessionTTL == "off" {
		s.SessionTTL = -1
	} else {
		s.SessionTTL = c.duration(name("tokens.session_ttl", "KEYSTILE_TOKENS_SESSION_TTL", fromEnv), fc.Tokens.SessionTTL, 0, maxSessionTTL)
	}
	s.RefreshIdleTTL = c.duration(name("tokens.refresh_idle_ttl", "KEYSTILE_TOKENS_REFRESH_IDLE_TTL", fromEnv), fc.Tokens.RefreshIdleTTL, 0, maxRefreshTTL)
	s.RefreshMaxTTL = c.duration(name("tokens.refresh_max_ttl", "KEYSTILE_TOKENS_REFRESH_MAX_TTL", fromEnv), fc.Tokens.RefreshMaxTTL, 0, maxRefreshTTL)
	s.DeviceCodeTTL = c.duration(name("tokens.device_code_ttl", "KEYSTILE_TOKENS_DEVICE_CODE_TTL", fromEnv), fc.Tokens.DeviceCodeTTL, 0, maxLoginTTL)
	if s.RefreshIdleTTL > 0 && s.RefreshMaxTTL > 0 && s.RefreshIdleTTL > s.RefreshMaxTTL {
		c.addf("tokens.refresh_idle_ttl (%s) is longer than tokens.refresh_max_ttl (%s)", s.RefreshIdleTTL, s.RefreshMaxTTL)
	}

	s.DrainDelay = c.duration(name("drain_delay", "KEYSTILE_DRAIN_DELAY", fromEnv), fc.DrainDelay, 0, maxDrainDelay)

	s.UsersFile = c.resolve(fc.UsersFile)
	s.PIDFile = c.resolve(fc.PIDFile)
	s.Users = newUserDB()
	if s.UsersFile != "" {
		users, err := loadUsers(s.UsersFile)
		var pl *problemList
		switch {
		case errors.As(err, &pl):
			for _, p := range pl.problems {
				c.addf("%s %s: %s", name("users_file", "KEYSTILE_USERS_FILE", fromEnv), pl.file, p)
			}
		case err != nil:
			c.addf("%s: %v", name("users_file", "KEYSTILE_USERS_FILE", fromEnv), err)
		default:
			s.Users = users
		}
	}

	if fc.LogLevel != "" {
		if err := s.LogLevel.UnmarshalText([]byte(fc.LogLevel)); err != nil {
			c.addf("%s: %q is not one of debug, info, warn, error", name("log_level", "KEYSTILE_LOG_LEVEL", fromEnv), fc.LogLevel)
		}
	}

	s.Clients = c.checkClients(fc.Clients)
	if err := s.Users.checkClientIDs(s.Clients); err != nil {
		c.addf("%v", err)
	}
	c.checkResources(s, fc)
	c.checkIDTokenKeyFile(s, fc.Signing.IDTokenKeyFile, fromEnv)
	c.checkBranding(s, fc, fromEnv)
	s.LoginThrottle = c.checkLoginThrottle(fc.LoginThrottle, fromEnv)
	return s
}

// Bounds on login_throttle: generous, but enough to catch a typo that
// would leave the login form unthrottled in all but name.
const (
	maxLoginAttempts   = 1000
	maxLoginDailyLimit = 100_000
	maxLoginPerAddress = 10_000
	maxLoginDelay      = 24 * time.Hour
	maxKnownDeviceTTL  = 365 * 24 * time.Hour
	// defaultLoginAttempts is keystile.LoginThrottle's default Attempts,
	// for the check against daily_limit (TestLoginThrottleSettings holds
	// the two to the same number).
	defaultLoginAttempts = 5
)

// checkLoginThrottle reads login_throttle:. An empty setting is left zero,
// which the library takes as its default (see the README).
func (c *checker) checkLoginThrottle(lc loginThrottleConfig, fromEnv map[string]bool) keystile.LoginThrottle {
	var t keystile.LoginThrottle
	t.Attempts = c.count(name("login_throttle.attempts", "KEYSTILE_LOGIN_THROTTLE_ATTEMPTS", fromEnv), lc.Attempts, maxLoginAttempts)
	t.MaxDelay = c.duration(name("login_throttle.max_delay", "KEYSTILE_LOGIN_THROTTLE_MAX_DELAY", fromEnv), lc.MaxDelay, 0, maxLoginDelay)
	t.DailyLimit = c.count(name("login_throttle.daily_limit", "KEYSTILE_LOGIN_THROTTLE_DAILY_LIMIT", fromEnv), lc.DailyLimit, maxLoginDailyLimit)
	t.PerAddress = c.count(name("login_throttle.per_address", "KEYSTILE_LOGIN_THROTTLE_PER_ADDRESS", fromEnv), lc.PerAddress, maxLoginPerAddress)
	if lc.KnownDeviceTTL == "off" {
		t.KnownDeviceTTL = -1
	} else {
		t.KnownDeviceTTL = c.duration(name("login_throttle.known_device_ttl", "KEYSTILE_LOGIN_THROTTLE_KNOWN_DEVICE_TTL", fromEnv), lc.KnownDeviceTTL, 0, maxKnownDeviceTTL)
	}
	attempts := t.Attempts
	if attempts == 0 {
		attempts = defaultLoginAttempts
	}
	if t.DailyLimit > 0 && t.DailyLimit < attempts {
		c.addf("login_throttle.daily_limit (%d) is below login_throttle.attempts (%d)", t.DailyLimit, attempts)
	}
	return t
}

// count parses a whole number in [1, limit]; an empty one is 0, the
// library's default.
func (c *checker) count(key, raw string, limit int) int {
	if raw == "" {
		return 0
	}
	n, err := strconv.Atoi(strings.TrimSpace(raw))
	if err != nil || n < 1 || n > limit {
		c.addf("%s: %q is not a whole number from 1 to %d", key, raw, limit)
		return 0
	}
	return n
}

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

// hostPort checks a listening address.
func (c *checker) hostPort(key, addr string) {
	if _, port, err := net.SplitHostPort(addr); err != nil {
		c.addf("%s: %q is not HOST:PORT", key, addr)
	} else if n, err := strconv.ParseUint(port, 10, 16); err != nil || (n == 0 && port != "0") {
		c.addf("%s: port %q is not a number from 0 to 65535", key, port)
	}
}

// duration parses a Go duration string such as "15m" within (0, limit];
// an empty one is def.
func (c *checker) duration(key, raw string, def, limit time.Duration) time.Duration {
	if raw == "" {
		return def
	}
	d, err := time.ParseDuration(raw)
	if err != nil {
		c.addf("%s: %q is not a duration (write it like 15m, 90s or 1h30m)", key, raw)
		return def
	}
	if d <= 0 || d > limit {
		c.addf("%s: %s is out of range (more than 0, at most %s)", key, d, limit)
		return def
	}
	return d
}

// checkClients turns the clients into keystile.Client values, checking each
// with keystile.ValidateClient, the same check keystile.New makes.
func (c *checker) checkClients(ccs []clientConfig) []keystile.Client {
	clients := make([]keystile.Client, 0, len(ccs))
	seen := map[string]int{}
	for i, cc := range ccs {
		cl := keystile.Client{
			ID:             cc.ID,
			Name:           cc.Name,
			Public:         cc.Public,
			SecretHash:     cc.SecretHash,
			RedirectURIs:   cc.RedirectURIs,
			AllowedOrigins: cc.AllowedOrigins,
			Scopes:         cc.Scopes,
			GrantTypes:     cc.GrantTypes,
			Claims:         cc.Claims,
			Resources:      cc.Resources,

			PostLogoutRedirectURIs: cc.PostLogoutRedirectURIs,
		}
		if err := keystile.ValidateClient(cl); err != nil {
			c.addf("clients[%d]: %v", i, err)
			continue
		}
		if j, dup := seen[cl.ID]; dup {
			c.addf("clients[%d]: client id %q is also clients[%d]", i, cl.ID, j)
			continue
		}
		seen[cl.ID] = i
		if _, err := json.Marshal(cl.Claims); err != nil {
			c.addf("clients[%d] (%s): claims cannot be put into a token: %v", i, cl.ID, err)
			continue
		}
		// As for users: a claim the server sets itself is refused here rather
		// than silently dropped from every token (docs/security.md §9).
		if name := registeredClaimIn(cl.Claims); name != "" {
			c.addf("clients[%d] (%s): claims: %q is set by the server and cannot be a custom claim", i, cl.ID, name)
			continue
		}
		clients = append(clients, cl)
	}
	return clients
}

// storeSpec is a parsed store setting.
type storeSpec struct {
	Kind string // "sqlite", "postgres" or "memory"
	Path string // sqlite: the database file
	// URL is postgres's connection URL. It may hold a password: never
	// print or log it.
	URL string
}

// parseStoreSpec reads "sqlite:PATH", "postgres://…" or "memory:", which
// may also be written "memory": unquoted in YAML, `store: memory:` is a
// syntax error, and the colon adds nothing. The error never repeats the
// value, which for a database URL may hold a password.
func parseStoreSpec(raw string) (storeSpec, error) {
	if raw == "memory" {
		return storeSpec{Kind: "memory"}, nil
	}
	scheme, rest, ok := strings.Cut(raw, ":")
	if !ok {
		return storeSpec{}, errors.New(`must be sqlite:PATH, postgres://… or memory`)
	}
	switch scheme {
	case "sqlite":
		if !withSQLite {
			return storeSpec{}, storeLeftOut("SQLite", "nosqlite")
		}
		if rest == "" {
			return storeSpec{}, errors.New(`sqlite: needs a file, e.g. sqlite:keystile.db`)
		}
		return storeSpec{Kind: "sqlite", Path: rest}, nil
	case "memory":
		if rest != "" {
			return storeSpec{}, errors.New(`memory: takes nothing after the colon`)
		}
		return storeSpec{Kind: "memory"}, nil
	case "postgres", "postgresql":
		if !withPostgres {
			return storeSpec{}, storeLeftOut("PostgreSQL", "nopostgres")
		}
		// The URL is checked when the store opens it, whose errors leave
		// it out.
		return storeSpec{Kind: "postgres", URL: raw}, nil
	default:
		return storeSpec{}, fmt.Errorf("unknown store scheme %q (use sqlite:PATH, postgres://… or memory)", truncate(scheme, 20))
	}
}

// storeLeftOut is the error for a store that a build tag left out of this
// binary (store_sqlite.go, store_postgres.go).
func storeLeftOut(name, tag string) error {
	return fmt.Errorf("this keystile was built with -tags %s, without the %s store: use a build without that tag, or another store", tag, name)
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

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// registeredClaimIn returns the first (in sorted order) claim name that the
// server sets itself, or "".
func registeredClaimIn(claims map[string]any) string {
	for _, name := range slices.Sorted(maps.Keys(claims)) {
		if keystile.IsRegisteredClaim(name) {
			return name
		}
	}
	return ""
}
