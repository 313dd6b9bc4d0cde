package keystile

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
)

// Branding is how the sign-in pages present the product Keystile signs
// people in to. Every field is optional; the zero value is Keystile's own
// look. The pages stay self-contained: the logo is served from the
// server's own static/ path and the colour from a stylesheet generated at
// New (static/theme.css), so the pages' CSP never needs an outside origin
// or an inline style.
type Branding struct {
	// ProductName is shown at the top of every page and in its title;
	// default "Keystile".
	ProductName string
	// Logo is the image shown beside the product name and used as the
	// favicon: SVG, PNG, JPEG or WebP, at most 256 KiB. It is shown at
	// 32×32 CSS pixels, so a square image looks best. nil keeps Keystile's.
	Logo []byte
	// LogoType is Logo's media type ("image/svg+xml", "image/png",
	// "image/jpeg", "image/webp"); empty means detect it from the bytes.
	LogoType string
	// AccentColor is the colour of the sign-in button, the focus rings and
	// the scope bullets, as "#rrggbb". Dark mode uses a lighter tint of it
	// when it would be hard to see on a dark background, and the button's
	// text is white or near-black, whichever reads better (WCAG contrast).
	AccentColor string
}

// maxLogoBytes bounds Branding.Logo: it is held in memory and sent with
// every sign-in page.
const maxLogoBytes = 256 << 10

// logoExtensions maps the accepted logo types to the file name they are
// served under, below static/.
var logoExtensions = map[string]string{
	"image/svg+xml": "logo.svg",
	"image/png":     "logo.png",
	"image/jpeg":    "logo.jpg",
	"image/webp":    "logo.webp",
}

// logoAsset checks a custom logo and returns its file name below static/
// and its media type.
func logoAsset(b Branding) (name, contentType string, err error) {
	if len(b.Logo) > maxLogoBytes {
		return "", "", fmt.Errorf("Config.Branding.Logo is %d bytes; at most %d are allowed", len(b.Logo), maxLogoBytes)
	}
	detected := sniffImage(b.Logo)
	ct := b.LogoType
	if ct == "" {
		ct = detected
		if ct == "" {
			return "", "", errors.New("Config.Branding.Logo is not an SVG, PNG, JPEG or WebP image")
		}
	}
	name, ok := logoExtensions[ct]
	if !ok {
		return "", "", fmt.Errorf("Config.Branding.LogoType %q is not one of image/svg+xml, image/png, image/jpeg, image/webp", ct)
	}
	if detected != ct {
		return "", "", fmt.Errorf("Config.Branding.Logo does not look like %s", ct)
	}
	return name, ct, nil
}

// sniffImage names the type of an image by its first bytes (the WHATWG
// MIME Sniffing rules of net/http, plus SVG, which they leave as XML or
// text), or "" when it is none of the accepted types.
func sniffImage(b []byte) string {
	switch ct := http.DetectContentType(b); {
	case ct == "image/png", ct == "image/jpeg", ct == "image/webp":
		return ct
	case strings.HasPrefix(ct, "text/xml"), strings.HasPrefix(ct, "text/plain"):
		head := b[:min(len(b), 1024)]
		if bytes.Contains(head, []byte("<svg")) {
			return "image/svg+xml"
		}
	}
	return ""
}

// rgb is a colour with components from 0 to 1.
type rgb struct{ r, g, b float64 }

// parseHexColor reads "#rrggbb", and nothing else: no names, no short form,
// nothing a stylesheet could be tricked with.
func parseHexColor(s string) (rgb, error) {
	if len(s) != 7 || s[0] != '#' {
		return rgb{}, fmt.Errorf("%q is not a colour of the form #rrggbb", s)
	}
	v, err := strconv.ParseUint(s[1:], 16, 32)
	if err != nil {
		return rgb{}, fmt.Errorf("%q is not a colour of the form #rrggbb", s)
	}
	return rgb{float64(v>>16&0xff) / 255, float64(v>>8&0xff) / 255, float64(v&0xff) / 255}, nil
}

func (c rgb) hex() string {
	to := func(f float64) int { return int(math.Round(math.Max(0, math.Min(1, f)) * 255)) }
	return fmt.Sprintf("#%02x%02x%02x", to(c.r), to(c.g), to(c.b))
}

// mix returns c moved towards d by t (0: c, 1: d).
func (c rgb) mix(d rgb, t float64) rgb {
	return rgb{c.r + (d.r-c.r)*t, c.g + (d.g-c.g)*t, c.b + (d.b-c.b)*t}
}

// luminance is the relative luminance of WCAG 2.2 (§ "relative luminance").
func (c rgb) luminance() float64 {
	lin := func(v float64) float64 {
		if v <= 0.04045 {
			return v / 12.92
		}
		return math.Pow((v+0.055)/1.055, 2.4)
	}
	return 0.2126*lin(c.r) + 0.7152*lin(c.g) + 0.0722*lin(c.b)
}

// contrast is the WCAG contrast ratio of two colours, from 1 to 21.
func contrast(a, b rgb) float64 {
	la, lb := a.luminance(), b.luminance()
	if la < lb {
		la, lb = lb, la
	}
	return (la + 0.05) / (lb + 0.05)
}

// towards moves c towards d in small steps until it has at least ratio
// contrast against bg, and returns it (d itself if nothing less will do).
func towards(c, d, bg rgb, ratio float64) rgb {
	for t := 0.0; t < 1; t += 0.05 {
		if m := c.mix(d, t); contrast(m, bg) >= ratio {
			return m
		}
	}
	return d
}

// The colours of keystile.css that the accent is judged against.
var (
	white       = rgb{1, 1, 1}
	black       = rgb{0, 0, 0}
	darkSurface = mustColor("#171a21") // --surface in dark mode
)

func mustColor(s string) rgb {
	c, err := parseHexColor(s)
	if err != nil {
		panic(err)
	}
	return c
}

// onColor picks the text colour of a button filled with bg: white or
// black, whichever contrasts more, which is always at least 4.58:1 (the
// worst case is a background of luminance 0.179), so the button's label
// meets WCAG 2.2 AA whatever the accent.
func onColor(bg rgb) rgb {
	if contrast(white, bg) >= contrast(black, bg) {
		return white
	}
	return black
}

// themeCSS is static/theme.css for an accent colour: the custom properties
// of keystile.css that carry the accent, for light and dark mode. Focus
// rings and bullets keep at least 3:1 against the page (WCAG 2.2 §1.4.11),
// and dark mode's accent 4.5:1 against its surface.
func themeCSS(accent string) ([]byte, error) {
	a, err := parseHexColor(accent)
	if err != nil {
		return nil, err
	}
	lightOn := onColor(a)
	lightHover := a.mix(black, 0.12)
	if lightOn != white {
		lightHover = a.mix(white, 0.15)
	}
	lightFocus := towards(a, black, white, 3)

	dark := towards(a, white, darkSurface, 4.5)
	darkHover := dark.mix(white, 0.18)
	var buf bytes.Buffer
	fmt.Fprintf(&buf, `/* Generated by Keystile from Config.Branding.AccentColor %s. */
:root {
  --accent: %s;
  --accent-hover: %s;
  --on-accent: %s;
  --focus: %s;
}

@media (prefers-color-scheme: dark) {
  :root {
    --accent: %s;
    --accent-hover: %s;
    --on-accent: %s;
    --focus: %s;
  }
}
`, a.hex(), a.hex(), lightHover.hex(), lightOn.hex(), lightFocus.hex(),
		dark.hex(), darkHover.hex(), onColor(dark).hex(), darkHover.hex())
	return buf.Bytes(), nil
}
