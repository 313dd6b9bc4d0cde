package main

import (
	"path/filepath"
	"strings"
)

// The KEYSTILE_* environment variables: which settings of the file each
// replaces, and how a path given in the environment is resolved.

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
	{"KEYSTILE_LOG_FLUSH", func(c *fileConfig) *string { return &c.LogFlush }, nil},
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
