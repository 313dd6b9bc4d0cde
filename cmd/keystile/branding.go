package main

import (
	"os"
)

// brandingConfig is the "branding:" section: how the sign-in pages present
// the product (keystile.Branding).
type brandingConfig struct {
	ProductName string `yaml:"product_name"`
	LogoFile    string `yaml:"logo_file"`    // SVG, PNG, JPEG or WebP, at most 256 KiB
	AccentColor string `yaml:"accent_color"` // "#rrggbb"
}

var hexColor = lazyRegexp(`^#[0-9a-fA-F]{6}$`)

// checkBranding reads the logo file and the templates directory. What only
// the library can judge (is the logo an image, does every template render)
// is checked by keystile.New, which names the file and the line.
func (c *checker) checkBranding(s *settings, fc fileConfig, fromEnv map[string]bool) {
	b := fc.Branding
	s.Branding.ProductName = b.ProductName
	if b.AccentColor != "" && !hexColor().MatchString(b.AccentColor) {
		c.addf("%s: %q is not a colour of the form #rrggbb", name("branding.accent_color", "KEYSTILE_BRANDING_ACCENT_COLOR", fromEnv), b.AccentColor)
	}
	s.Branding.AccentColor = b.AccentColor
	if b.LogoFile != "" {
		path := c.resolve(b.LogoFile)
		s.LogoFile = path
		logo, err := readBounded(path)
		if err != nil {
			c.addf("%s: %v", name("branding.logo_file", "KEYSTILE_BRANDING_LOGO_FILE", fromEnv), err)
		} else {
			s.Branding.Logo = logo
		}
	}
	if fc.TemplatesDir != "" {
		dir := c.resolve(fc.TemplatesDir)
		s.TemplatesDir = dir
		if st, err := os.Stat(dir); err != nil || !st.IsDir() {
			c.addf("%s: %s is not a directory", name("templates_dir", "KEYSTILE_TEMPLATES_DIR", fromEnv), dir)
		} else {
			s.Templates = os.DirFS(dir)
		}
	}
}
